using System.Globalization;
using RelevanceSharp.Attribution;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>
/// What <c>relevance explain --layer</c>, <c>--top-channels</c> and <c>--report</c> add to an image's explanation: the
/// result at named layers (heatmaps at the layer's resolution, raw tensors), the channels holding the most relevance,
/// and the prepared image for the report.
/// </summary>
internal static class ExplainLayers
{
    /// <summary>Checks the options that concern layers.</summary>
    /// <exception cref="ArgumentException">An option is out of range or needs another.</exception>
    public static void Check(ExplainOptions options)
    {
        if (options.TopChannels < 0)
        {
            throw new ArgumentException($"--top-channels must be at least 1; got {options.TopChannels}.");
        }
        if (options.TopChannels > 0 && options.Layers.Count == 0)
        {
            throw new ArgumentException("--top-channels lists channels of the layers given with --layer; give at least one.");
        }
        if (options.Conservation && options.Layers.Count > 0)
        {
            throw new ArgumentException("--conservation and --layer each follow a backward pass of their own; give one of them.");
        }
        if (options.Layers.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("--layer needs a layer name, e.g. --layer features.denseblock3.");
        }
    }

    /// <summary>
    /// Refuses a <c>--layer</c> that <paramref name="model"/> does not have (naming the nearest), and a method that explains
    /// a named layer (Grad-CAM) without one, naming a few of the model's blocks to choose from: the last containers at
    /// most one level below the top.
    /// </summary>
    /// <exception cref="ArgumentException">A layer is unknown, or the method needs a layer and the spec names none.</exception>
    public static void CheckLayers(ExplainOptions options, TorchSharp.torch.nn.Module model)
    {
        var names = model.named_modules().Select(m => m.name).ToHashSet(StringComparer.Ordinal);
        foreach (string layer in options.Layers.Where(l => !names.Contains(l)))
        {
            throw new ArgumentException($"--layer {layer}: the model has no layer of that name; nearest: {string.Join(", ", model.ClosestNames(layer))}.");
        }
        AttributionSpec spec = options.Spec;
        bool needsLayer = spec.MethodEntry.Arguments.Any(a => a.Name == "layer");
        if (!needsLayer || spec.MethodArguments.Any(a => a.TrimStart().StartsWith("layer=", StringComparison.Ordinal)))
        {
            return;
        }
        var blocks = model.named_modules()
            .Where(m => m.name.Length > 0 && m.name.Count(c => c == '.') <= 1 && m.module.children().Any())
            .Select(m => m.name)
            .TakeLast(3)
            .ToList();
        throw new ArgumentException(
            $"--method {spec.MethodEntry.Name} explains a layer of the model: give it with --layer NAME, e.g. {string.Join(", ", blocks)}.");
    }

    /// <summary>The file of image <paramref name="stem"/> for a layer's heatmap: <c>&lt;stem&gt;.&lt;layer&gt;&lt;extension&gt;</c>.</summary>
    public static string FileStem(string stem, string layer) => $"{stem}.{layer}";

    /// <summary>The outputs the layers and the report add to an image's files (paths relative to the output folder).</summary>
    public static IEnumerable<PlannedOutput> Outputs(ExplainOptions options, string stem, string extension)
    {
        if (options.WriteInput)
        {
            yield return new PlannedOutput(stem + ".input.png", OutputKind.Input);
        }
        foreach (string layer in options.Layers)
        {
            yield return new PlannedOutput(FileStem(stem, layer) + extension, OutputKind.LayerHeatmap, layer);
            if (options.RelevanceFormat == RelevanceFormat.Npy)
            {
                yield return new PlannedOutput(FileStem(stem, layer) + ".npy", OutputKind.LayerNpy, layer);
            }
            else if (options.RelevanceFormat == RelevanceFormat.SafeTensors)
            {
                yield return new PlannedOutput(FileStem(stem, layer) + ".safetensors", OutputKind.LayerSafeTensors, layer);
            }
        }
    }

    /// <summary>
    /// Attributes <paramref name="input"/> for each image's predicted class with the results at <paramref name="layers"/>;
    /// a layer the model, the method or the layer's output does not allow is refused as an argument error naming it.
    /// </summary>
    public static AttributionResult Attribute(Attributor attributor, Tensor input, IReadOnlyList<string> layers)
    {
        long[] classes;
        using (no_grad())
        {
            classes = attributor.Model.call(input).argmax(1).data<long>().ToArray();
        }
        try
        {
            return attributor.Attribute(input, attributor.ClassTarget(classes), layers);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException)
        {
            throw new ArgumentException($"--layer {string.Join(", ", layers)}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The shape of each layer's result for one image; a layer whose output is not (N, C, h, w) has no heatmap and is
    /// refused.
    /// </summary>
    public static IReadOnlyDictionary<string, long[]> Shapes(AttributionResult result, IReadOnlyList<string> layers)
    {
        var shapes = new Dictionary<string, long[]>();
        foreach (string layer in layers)
        {
            long[] shape = result.Layers[layer].shape;
            if (shape.Length != 4)
            {
                throw new ArgumentException(
                    $"--layer {layer}: the layer's output has shape [{string.Join(", ", shape)}]; its heatmap needs (N, C, height, width).");
            }
            shapes[layer] = shape[1..];
        }
        return shapes;
    }

    /// <summary>
    /// The <paramref name="count"/> channels of one image's layer result (C, h, w) with the largest signed sum of
    /// relevance over their positions, largest first (ties by channel index).
    /// </summary>
    public static IReadOnlyList<ChannelRelevance> TopChannels(Tensor layer, int count)
    {
        using var scope = NewDisposeScope();
        double[] sums = layer.detach().to(ScalarType.Float64).flatten(1).sum(1).cpu().data<double>().ToArray();
        return sums.Select((sum, channel) => new ChannelRelevance(channel, sum))
            .OrderByDescending(c => c.Relevance)
            .ThenBy(c => c.Channel)
            .Take(count)
            .ToList();
    }

    /// <summary>One line per layer: <c>  features.denseblock3: channels 17 (0.412), 5 (0.233)</c>.</summary>
    public static IEnumerable<string> Describe(IReadOnlyDictionary<string, IReadOnlyList<ChannelRelevance>>? top) =>
        top?.Select(layer => $"  {layer.Key}: top channels " +
            string.Join(", ", layer.Value.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Channel} ({c.Relevance:G4})")))) ?? [];
}
