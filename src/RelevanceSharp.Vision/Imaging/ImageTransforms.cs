using TorchSharp;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Vision.Imaging;

/// <summary>
/// The operations of an <see cref="ImageTransform"/> on image tensors <c>(C, H, W)</c> or <c>(N, C, H, W)</c> in
/// [0, 1]: resizing and center-cropping as torchvision does them, and per-channel normalization. Reading and writing
/// image files is <see cref="ImageIO"/>'s.
/// </summary>
public static class ImageTransforms
{
    /// <summary>
    /// Resizes and center-crops an image <c>(C, H, W)</c> in [0, 1] as <paramref name="transform"/> says, without
    /// normalizing: the picture a heatmap of the model input is laid over.
    /// </summary>
    public static Tensor Prepare(Tensor image, ImageTransform transform)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(transform);
        transform.Validate();
        using var scope = NewDisposeScope();
        Tensor result = transform.Size > 0 ? Resize(image, transform.Size, transform.MaxPixels) : image.alias();
        if (transform.CropSize > 0)
        {
            result = CenterCrop(result, transform.CropSize);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Resizes <c>(C, H, W)</c> or <c>(N, C, H, W)</c> so that the shorter side is <paramref name="shorterSide"/>
    /// and the longer one keeps the aspect ratio (truncated, as torchvision does), with antialiased bilinear
    /// interpolation.
    /// </summary>
    public static Tensor Resize(Tensor image, int shorterSide) => Resize(image, shorterSide, long.MaxValue);

    /// <summary>
    /// Resizes as <see cref="Resize(Tensor, int)"/>, refusing with an <see cref="ArgumentException"/> a result of more
    /// than <paramref name="maxPixels"/> pixels, before anything is allocated.
    /// </summary>
    public static Tensor Resize(Tensor image, int shorterSide, long maxPixels)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(shorterSide, 1);
        var (height, width) = Spatial(image);
        long newHeight, newWidth;
        if (height <= width)
        {
            newHeight = shorterSide;
            newWidth = (long)((double)shorterSide * width / height);
        }
        else
        {
            newWidth = shorterSide;
            newHeight = (long)((double)shorterSide * height / width);
        }
        if ((double)newHeight * newWidth > maxPixels)
        {
            throw new ArgumentException(
                $"Resizing the {width}x{height} image to a shorter side of {shorterSide} gives {newWidth}x{newHeight} pixels, " +
                $"more than the limit of {maxPixels:N0}.");
        }
        using var scope = NewDisposeScope();
        Tensor batch = AsFloat(image.dim() == 3 ? image.unsqueeze(0) : image);
        Tensor resized = nn.functional.interpolate(batch, [newHeight, newWidth],
            mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
        return (image.dim() == 3 ? resized.squeeze(0) : resized).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Cuts the centered <paramref name="size"/> x <paramref name="size"/> square out of <c>(C, H, W)</c> or
    /// <c>(N, C, H, W)</c>; offsets are rounded half to even, as torchvision does.
    /// </summary>
    public static Tensor CenterCrop(Tensor image, int size)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var (height, width) = Spatial(image);
        if (size > height || size > width)
        {
            throw new ArgumentException($"Cannot crop {size}x{size} from an image of {width}x{height}.", nameof(size));
        }
        long top = (long)Math.Round((height - size) / 2.0, MidpointRounding.ToEven);
        long left = (long)Math.Round((width - size) / 2.0, MidpointRounding.ToEven);
        int rows = (int)image.dim() - 2;
        using var scope = NewDisposeScope();
        return image.narrow(rows, top, size).narrow(rows + 1, left, size).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Returns <c>(x - mean) / std</c> per channel for <c>(C, H, W)</c> or <c>(N, C, H, W)</c>; one value in
    /// <paramref name="mean"/> and <paramref name="std"/> applies to every channel.
    /// </summary>
    public static Tensor Normalize(Tensor image, IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var scope = NewDisposeScope();
        var (m, s) = ChannelStats(image, mean, std);
        return ((AsFloat(image) - m) / s).MoveToOuterDisposeScope();
    }

    /// <summary>Undoes <see cref="Normalize"/>: <c>x * std + mean</c> per channel.</summary>
    public static Tensor Denormalize(Tensor image, IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var scope = NewDisposeScope();
        var (m, s) = ChannelStats(image, mean, std);
        return ((AsFloat(image) * s).add(m, Scalars.One)).MoveToOuterDisposeScope();
    }

    internal static void CheckMeanStd(IReadOnlyList<float> mean, IReadOnlyList<float> std, long channels)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Count != std.Count || (mean.Count != 1 && mean.Count != channels))
        {
            string allowed = channels == 1 ? "one mean and one std value" : $"one mean and one std value, or {channels} of each (one per channel)";
            throw new ArgumentException(
                $"The images have {channels} channel{(channels == 1 ? "" : "s")}, so normalization takes {allowed}; got {mean.Count} mean and {std.Count} std value{(std.Count == 1 ? "" : "s")}.");
        }
        if (std.Any(s => !(s > 0) || !float.IsFinite(s)) || mean.Any(m => !float.IsFinite(m)))
        {
            throw new ArgumentException("Normalization needs finite means and positive finite standard deviations.");
        }
    }

    private static (long Height, long Width) Spatial(Tensor image)
    {
        if (image.dim() is not (3 or 4))
        {
            throw new ArgumentException(
                $"An image tensor must be (C, H, W) or (N, C, H, W); got [{string.Join(", ", image.shape)}].", nameof(image));
        }
        return (image.shape[^2], image.shape[^1]);
    }

    private static (Tensor Mean, Tensor Std) ChannelStats(Tensor image, IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        if (image.dim() is not (3 or 4))
        {
            throw new ArgumentException(
                $"An image tensor must be (C, H, W) or (N, C, H, W); got [{string.Join(", ", image.shape)}].", nameof(image));
        }
        long channels = image.shape[^3];
        CheckMeanStd(mean, std, channels);
        Tensor m = torch.tensor(mean.ToArray()).reshape(-1, 1, 1).to(image.device);
        Tensor s = torch.tensor(std.ToArray()).reshape(-1, 1, 1).to(image.device);
        return (m, s);
    }

    internal static Tensor AsFloat(Tensor image) =>
        image.is_floating_point() ? image.alias() : image.to_type(ScalarType.Float32).div(Scalars.Of(255f));
}
