using TorchSharp;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Imaging;

/// <summary>How relevance becomes a heatmap.</summary>
/// <param name="ColorMap">
/// A built-in map name (<see cref="Imaging.ColorMap.Names"/>) or color-map notation; zennit's default is <c>bwr</c>.
/// </param>
/// <param name="Symmetric">
/// Symmetric normalization: divide by the largest absolute relevance, so that zero relevance lands in the middle of
/// the map and positive and negative relevance share one scale. Otherwise (min-max) the smallest value maps to the
/// start of the map and the largest to its end. zennit's <c>imgify</c> defaults to min-max; for signed relevance
/// symmetric is the meaningful choice, so it is the default here.
/// </param>
/// <param name="Level">Contrast of the palette, as in zennit: 1 uses the map as it is (see <see cref="Imaging.ColorMap.Palette"/>).</param>
/// <param name="Min">Overrides the value mapped to the start of the map.</param>
/// <param name="Max">Overrides the value mapped to the end of the map.</param>
public sealed record HeatmapOptions(
    string ColorMap = "bwr",
    bool Symmetric = true,
    double Level = 1.0,
    double? Min = null,
    double? Max = null);

/// <summary>
/// Heatmaps in the manner of zennit's image tools: relevance summed over channels, normalized, and colored through a
/// 256-entry palette, and overlays on the input image. Images are <c>(3, H, W)</c> float tensors in [0, 1], ready for
/// <c>ImageIO.SavePng</c> of the RelevanceSharp.Vision package (which also arranges them in labelled grids).
/// </summary>
public static class Heatmap
{
    /// <summary>
    /// Renders one relevance map, <c>(H, W)</c>, <c>(C, H, W)</c> or <c>(1, C, H, W)</c>, as a <c>(3, H, W)</c> RGB
    /// image: relevance summed over channels, normalized (<see cref="Normalize"/>), quantized to 0..255 (truncating,
    /// as zennit does) and looked up in the palette of the color map at the option's level. Non-finite relevance
    /// counts as 0.
    /// </summary>
    public static Tensor Render(Tensor relevance, HeatmapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(relevance);
        options ??= new HeatmapOptions();
        if (relevance.dim() == 4 && relevance.shape[0] != 1)
        {
            throw new ArgumentException(
                $"Render takes one relevance map; for a batch of {relevance.shape[0]} use RenderEach.", nameof(relevance));
        }
        ColorMap map = ColorMap.Get(options.ColorMap);
        using var scope = NewDisposeScope();
        Tensor values = Normalize(SumChannels(relevance), options.Symmetric, options.Min, options.Max);
        return Colorize(values, map, options.Level).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Renders a batch <c>(N, C, H, W)</c> as <c>(N, 3, H, W)</c>, each sample normalized on its own (as zennit's
    /// grid mode does).
    /// </summary>
    /// <param name="relevance">The batch.</param>
    /// <param name="options">Colors and normalization; its <c>Min</c> and <c>Max</c> apply to every sample.</param>
    /// <param name="min">Per-sample values mapped to the start of the map (zennit's <c>vmin</c> per sample), or <c>null</c>.</param>
    /// <param name="max">Per-sample values mapped to the end of the map, or <c>null</c>.</param>
    public static Tensor RenderEach(Tensor relevance, HeatmapOptions? options = null, IReadOnlyList<double>? min = null,
        IReadOnlyList<double>? max = null)
    {
        ArgumentNullException.ThrowIfNull(relevance);
        if (relevance.dim() != 4)
        {
            throw new ArgumentException(
                $"RenderEach takes a batch (N, C, H, W); got [{string.Join(", ", relevance.shape)}].", nameof(relevance));
        }
        long count = relevance.shape[0];
        if ((min is not null && min.Count != count) || (max is not null && max.Count != count))
        {
            throw new ArgumentException($"Per-sample bounds need one value per sample ({count}); got {min?.Count} minima and {max?.Count} maxima.");
        }
        options ??= new HeatmapOptions();
        using var scope = NewDisposeScope();
        Tensor[] images = relevance.unbind(0)
            .Select((sample, i) => Render(sample, options with { Min = min?[i] ?? options.Min, Max = max?[i] ?? options.Max }))
            .ToArray();
        return stack(images).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Tiles a batch <c>(N, C, H, W)</c> into one image <c>(C, rows * H, columns * W)</c>, row by row (zennit's
    /// <c>gridify</c>); cells past the last sample hold <paramref name="fill"/>. The shape defaults to zennit's: as many
    /// columns as the integer square root of N, and the rows that takes.
    /// </summary>
    public static Tensor Gridify(Tensor batch, (int Rows, int Columns)? shape = null, double fill = 0.0)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.dim() != 4)
        {
            throw new ArgumentException($"Gridify takes a batch (N, C, H, W); got [{string.Join(", ", batch.shape)}].", nameof(batch));
        }
        int count = (int)batch.shape[0];
        int columns = shape?.Columns ?? Math.Max(1, (int)Math.Sqrt(count));
        int rows = shape?.Rows ?? (count + columns - 1) / columns;
        if (rows < 1 || columns < 1 || (long)rows * columns < count)
        {
            throw new ArgumentException($"A grid of {rows}x{columns} cells cannot hold {count} samples.", nameof(shape));
        }
        long channels = batch.shape[1], height = batch.shape[2], width = batch.shape[3];
        using var scope = NewDisposeScope();
        Tensor cells = full(new long[] { (long)rows * columns, channels, height, width }, Scalars.Of(fill), dtype: batch.dtype, device: batch.device);
        Tensor detached = batch.detach();
        cells.narrow(0, 0, count).copy_(detached);
        GC.KeepAlive(detached);
        Tensor grid = cells.reshape(rows, columns, channels, height, width).permute(2, 0, 3, 1, 4).reshape(channels, rows * height, columns * width);
        return grid.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The bounds <see cref="Normalize"/> would use, computed over the dimensions <paramref name="dims"/> (all but the
    /// first by default) and kept broadcastable (zennit's <c>interval_norm_bounds</c>): symmetric, <c>-m</c> and
    /// <c>m</c> with <c>m = max |x|</c>; otherwise the minimum and maximum.
    /// </summary>
    public static (Tensor Low, Tensor High) IntervalNormBounds(Tensor values, bool symmetric = true, IReadOnlyList<long>? dims = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        long[] over = (dims ?? Enumerable.Range(1, Math.Max(0, (int)values.dim() - 1)).Select(d => (long)d).ToArray()).ToArray();
        using var scope = NewDisposeScope();
        Tensor x = values.detach();
        if (over.Length == 0)
        {
            return symmetric
                ? ((-x.abs()).MoveToOuterDisposeScope(), x.abs().MoveToOuterDisposeScope())
                : (x.clone().MoveToOuterDisposeScope(), x.clone().MoveToOuterDisposeScope());
        }
        if (symmetric)
        {
            Tensor m = x.abs().amax(over, keepdim: true);
            return ((-m).MoveToOuterDisposeScope(), m.MoveToOuterDisposeScope());
        }
        return (x.amin(over, keepdim: true).MoveToOuterDisposeScope(), x.amax(over, keepdim: true).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Sums relevance over its channels: <c>(C, H, W)</c> or <c>(1, C, H, W)</c> to <c>(H, W)</c>; <c>(H, W)</c>
    /// is returned as it is (as a new tensor). Integer input becomes float32.
    /// </summary>
    public static Tensor SumChannels(Tensor relevance)
    {
        ArgumentNullException.ThrowIfNull(relevance);
        using var scope = NewDisposeScope();
        Tensor values = relevance.is_floating_point() ? relevance.detach() : relevance.to_type(ScalarType.Float32);
        Tensor summed = values.dim() switch
        {
            2 => values.alias(),
            3 => values.sum(dim: 0),
            4 when values.shape[0] == 1 => values[0].sum(dim: 0),
            _ => throw new ArgumentException(
                $"Relevance must be (H, W), (C, H, W) or (1, C, H, W); got [{string.Join(", ", relevance.shape)}].",
                nameof(relevance)),
        };
        return summed.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Maps values to [0, 1]. Symmetric: <c>(x + m) / 2m</c> with <c>m = max |x|</c>, so 0 becomes 0.5. Min-max:
    /// <c>(x - min) / (max - min)</c>. <paramref name="min"/> and <paramref name="max"/> override the bounds; results
    /// are clamped to [0, 1] and non-finite values count as 0. When the bounds coincide (e.g. all relevance is 0)
    /// every value becomes 0.5 (symmetric) or 0 (min-max).
    /// </summary>
    public static Tensor Normalize(Tensor values, bool symmetric, double? min = null, double? max = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        using var scope = NewDisposeScope();
        Tensor x = (values.is_floating_point() ? values.detach() : values.to_type(ScalarType.Float32)).nan_to_num(0, 0, 0);
        double low, high;
        if (x.numel() == 0)
        {
            low = high = 0;
        }
        else if (symmetric)
        {
            double extent = x.abs().max().ToDouble();
            low = -extent;
            high = extent;
        }
        else
        {
            low = x.min().ToDouble();
            high = x.max().ToDouble();
        }
        low = min ?? low;
        high = max ?? high;
        Tensor result = high == low
            ? full_like(x, Scalars.Of(symmetric ? 0.5 : 0.0))
            : ((x.sub(Scalars.Of(low))).div(Scalars.Of((high - low)))).clamp(Scalars.Of(0), Scalars.Of(1));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Colors values in [0, 1] of shape <c>(H, W)</c>: each is quantized to <c>floor(v * 255)</c> and looked up in
    /// <paramref name="map"/>'s palette at <paramref name="level"/>. Returns <c>(3, H, W)</c> float32 in [0, 1].
    /// </summary>
    public static Tensor Colorize(Tensor values, ColorMap map, double level = 1.0)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(map);
        if (values.dim() != 2)
        {
            throw new ArgumentException($"Colorize takes (H, W) values; got [{string.Join(", ", values.shape)}].", nameof(values));
        }
        Rgb[] palette = map.Palette(level);
        float[] table = palette.SelectMany(c => new[] { c.R / 255f, c.G / 255f, c.B / 255f }).ToArray();
        using var scope = NewDisposeScope();
        Tensor lookup = torch.tensor(table, [256, 3]).to(values.device);
        Tensor index = (values.detach().to_type(ScalarType.Float64).nan_to_num(0, 0, 0).mul(Scalars.Of(255.0)))
            .clamp(Scalars.Of(0), Scalars.Of(255)).floor().to_type(ScalarType.Int64);
        Tensor colored = lookup.index_select(0, index.flatten()).reshape(values.shape[0], values.shape[1], 3);
        return colored.permute(2, 0, 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Lays a heatmap <c>(3, H, W)</c> over an image <c>(1|3, H, W)</c> (or with a batch axis of 1), both in [0, 1]:
    /// <c>alpha * heatmap + (1 - alpha) * image</c>. A gray image is repeated into three channels.
    /// </summary>
    public static Tensor Overlay(Tensor heatmap, Tensor image, double alpha = 0.5)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        ArgumentNullException.ThrowIfNull(image);
        if (!(alpha >= 0 && alpha <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The overlay alpha must lie in [0, 1].");
        }
        using var scope = NewDisposeScope();
        Tensor top = AsRgb(heatmap, nameof(heatmap));
        Tensor bottom = AsRgb(image, nameof(image));
        if (top.shape[1] != bottom.shape[1] || top.shape[2] != bottom.shape[2])
        {
            throw new ArgumentException(
                $"The heatmap is {top.shape[2]}x{top.shape[1]} but the image is {bottom.shape[2]}x{bottom.shape[1]}; they must match.");
        }
        return (top.mul(Scalars.Of(alpha)).add(bottom.mul(Scalars.Of((1 - alpha))), Scalars.One)).clamp(Scalars.Of(0), Scalars.Of(1)).MoveToOuterDisposeScope();
    }

    internal static Tensor AsRgb(Tensor image, string name)
    {
        Tensor x = image.dim() == 4 && image.shape[0] == 1 ? image[0] : image;
        if (x.dim() != 3 || x.shape[0] is not (1 or 3))
        {
            throw new ArgumentException($"Expected (1|3, H, W), got [{string.Join(", ", image.shape)}].", name);
        }
        x = x.is_floating_point() ? x.detach().to_type(ScalarType.Float32) : x.to_type(ScalarType.Float32).div(Scalars.Of(255f));
        return x.shape[0] == 1 ? x.expand(3, -1, -1) : x;
    }
}
