using System.Text.Json;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>How a map at a layer's resolution is brought to the input's (Captum's <c>interpolate_mode</c>).</summary>
public enum Upsampling
{
    /// <summary>Each value fills the input pixels it covers (Captum's default).</summary>
    Nearest,

    /// <summary>Bilinear interpolation of four-dimensional maps (the Grad-CAM paper's), corners not aligned.</summary>
    Bilinear,
}

/// <summary>
/// Grad-CAM (Selvaraju et al. 2017; Captum's <c>LayerGradCam</c>) on a named layer whose output is
/// <c>A</c>, shaped <c>(N, C, h, w)</c> (or with any number of spatial dimensions): the gradient <c>G = df/dA</c> of the
/// target is averaged over the spatial positions into one weight per channel, <c>w_c = mean_ij G_cij</c>, and the map is
/// the weighted sum of the channels, <c>cam_ij = sum_c w_c A_cij</c>, passed through a ReLU unless
/// <see cref="Relu"/> is off (the paper applies it; Captum's <c>relu_attributions</c> defaults to off).
/// </summary>
/// <remarks>
/// The map has the layer's resolution. <see cref="Attributor.Attribute(Tensor, AttributionTarget?)"/> returns it brought to
/// the input's resolution by <see cref="Upsampling"/> (nearest by default, as Captum's <c>LayerAttribution.interpolate</c>)
/// and repeated over the input's channels, so that the result is shaped like the input as every attribution is; asked for
/// its own layer (<see cref="Attributor.Attribute(Tensor, AttributionTarget?, IEnumerable{string})"/>), it also returns the
/// map itself, <c>(N, 1, h, w)</c>, at the layer's resolution. Grad-CAM takes the ordinary gradient: no composite.
/// </remarks>
public sealed class GradCam : Attributor
{
    /// <summary>The <c>layer</c> argument: the dotted name of the layer (required).</summary>
    internal static readonly ArgumentSpec LayerArgument =
        new("layer", "layer name", null, "The layer whose output the map is made of, by its dotted name (e.g. features.denseblock3).");

    /// <summary>The <c>upsample</c> argument.</summary>
    internal static readonly ArgumentSpec UpsampleArgument =
        new("upsample", "name", "nearest", "How the map is brought to the input's resolution: nearest or bilinear.");

    private static readonly ArgumentSpec ReluArgument =
        new("relu", "true or false", "true", "Whether negative values of the map are set to zero (the Grad-CAM paper's ReLU).");

    /// <summary>The registry entry: <c>gradcam</c> (also <c>grad_cam</c>), which takes no composite.</summary>
    [RegistryEntry(60)]
    public static MethodEntry Entry { get; } = new("gradcam", "Grad-CAM on a named layer: its channels weighted by their mean gradient (Captum's LayerGradCam).",
        [LayerArgument, UpsampleArgument, ReluArgument],
        c => new GradCam(c.Model, RequiredLayer(c.Arguments, "gradcam"), c.Target, ReadUpsampling(c.Arguments), ReadFlag(c.Arguments, ReluArgument)))
    {
        Aliases = ["grad_cam", "grad-cam"],
        TakesComposite = false,
        Describe = (v, _) => $"Grad-CAM at {(v.TryGetValue("layer", out string? layer) ? layer : "?")}" +
            $" ({(v["relu"] == "true" ? "" : "no ReLU, ")}{v["upsample"]} upsampling)",
    };

    /// <summary>Creates the attributor.</summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">The layer's dotted name.</param>
    /// <param name="target">The target of calls that give none.</param>
    /// <param name="upsampling">How the map is brought to the input's resolution.</param>
    /// <param name="relu">Whether negative values of the map are set to zero.</param>
    /// <exception cref="ArgumentException">The model has no layer of that name (the message names the nearest ones).</exception>
    public GradCam(nn.Module<Tensor, Tensor> model, string layer, AttributionTarget? target = null, Upsampling upsampling = Upsampling.Nearest,
        bool relu = true)
        : base(model, null, target)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (!model.NamedModulesWithRoot().Any(m => m.Name.Length > 0 && m.Name == layer))
        {
            throw LayerTap.UnknownLayer(model, layer);
        }
        Layer = layer;
        Upsampling = upsampling;
        Relu = relu;
    }

    /// <summary>The layer's dotted name.</summary>
    public string Layer { get; }

    /// <summary>How the map is brought to the input's resolution.</summary>
    public Upsampling Upsampling { get; }

    /// <summary>Whether negative values of the map are set to zero.</summary>
    public bool Relu { get; }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        var (output, map) = Map(input, target);
        if (Layers is { } request && request.Names.SequenceEqual([Layer]))
        {
            request.Result = [map];
        }
        return (output, ToInput(map, input, Upsampling));
    }

    /// <summary>The model output and the map at the layer's resolution, <c>(N, 1, h, w)</c>.</summary>
    internal (Tensor Output, Tensor Map) Map(Tensor input, AttributionTarget target)
    {
        using LayerTap tap = LayerTap.Attach(Model, [Layer]);
        var (output, _, layers) = Gradient(input, target, tap);
        var (activation, gradient) = layers[0];
        if (activation.dim() < 3)
        {
            throw new ArgumentException(
                $"Grad-CAM needs a layer with spatial dimensions, (N, C, h, w); the output of '{Layer}' has shape {TensorShapes.Format(activation.shape)}.");
        }
        long[] spatial = Enumerable.Range(2, (int)activation.dim() - 2).Select(d => (long)d).ToArray();
        Tensor weights = gradient.mean(spatial, keepdim: true);
        Tensor map = (weights * activation).sum(1, keepdim: true);
        return (output, Relu ? map.relu() : map);
    }

    /// <summary>
    /// A map <c>(N, 1, h, w)</c> brought to the spatial size of <paramref name="input"/> and repeated over its channels; a
    /// map of the input's size is only repeated.
    /// </summary>
    internal static Tensor ToInput(Tensor map, Tensor input, Upsampling upsampling)
    {
        long[] size = input.shape.Skip(2).ToArray();
        if (map.dim() != input.dim())
        {
            throw new ArgumentException(
                $"The map has shape {TensorShapes.Format(map.shape)} and the input {TensorShapes.Format(input.shape)}: Grad-CAM needs a layer with as many spatial dimensions as the input.");
        }
        Tensor resized = map.shape.Skip(2).SequenceEqual(size)
            ? map
            : upsampling == Upsampling.Bilinear
                ? map.dim() == 4
                    ? nn.functional.interpolate(map, size, mode: InterpolationMode.Bilinear, align_corners: false)
                    : throw new ArgumentException($"Bilinear upsampling needs a map of four dimensions; this one has {map.dim()}: use nearest.")
                : nn.functional.interpolate(map, size, mode: InterpolationMode.Nearest);
        return resized.expand(input.shape).contiguous();
    }

    /// <summary>The layer name a method's arguments give, required.</summary>
    internal static string RequiredLayer(ArgumentReader arguments, string method)
    {
        if (!arguments.TryGet(LayerArgument.Name, out JsonElement value) || value.ValueKind is JsonValueKind.Null)
        {
            throw new ArgumentException($"{method} needs the layer whose output it explains: {method}(layer=NAME), e.g. {method}(layer=features.denseblock3).");
        }
        // A name such as "0" (a Sequential's first module) reads as a number.
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
    }

    /// <summary>The upsampling an <c>upsample</c> argument names.</summary>
    internal static Upsampling ReadUpsampling(ArgumentReader arguments)
    {
        string name = arguments.Strings(UpsampleArgument.Name)?.SingleOrDefault() ?? UpsampleArgument.Default!;
        return Enum.TryParse(name, ignoreCase: true, out Upsampling mode) && !int.TryParse(name, out _)
            ? mode
            : throw new ArgumentException($"upsample must be nearest or bilinear; got '{name}'.");
    }

    private static bool ReadFlag(ArgumentReader arguments, ArgumentSpec spec)
    {
        if (!arguments.TryGet(spec.Name, out JsonElement value))
        {
            return spec.Default == "true";
        }
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ArgumentException($"Argument '{spec.Name}' must be true or false; got {value}."),
        };
    }
}
