using RelevanceSharp.Composites;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// Guided Grad-CAM (Selvaraju et al. 2017; Captum's <c>GuidedGradCam</c>): guided backpropagation (the gradient with the
/// <c>guided_backprop</c> composite: ReLUs pass only positive gradient, where their input was positive) times the Grad-CAM
/// map of a named layer with its ReLU, brought to the input's resolution (nearest by default, as Captum) and multiplied
/// into every channel: <c>GB(x)_cij * relu(cam)_ij</c>. Two backward passes, one for each factor. At its layer, asked for,
/// it returns the Grad-CAM map at the layer's resolution (<see cref="GradCam"/>).
/// </summary>
public sealed class GuidedGradCam : Attributor
{
    private readonly GradCam gradCam;
    private readonly Gradient guided;

    /// <summary>The registry entry: <c>guided_gradcam</c> (also <c>guided_grad_cam</c>), which takes no composite.</summary>
    [RegistryEntry(62)]
    public static MethodEntry Entry { get; } = new("guided_gradcam",
        "Guided Grad-CAM: guided backpropagation times the Grad-CAM map of a named layer (Captum's GuidedGradCam).",
        [GradCam.LayerArgument, GradCam.UpsampleArgument],
        c => new GuidedGradCam(c.Model, GradCam.RequiredLayer(c.Arguments, "guided_gradcam"), c.Target, GradCam.ReadUpsampling(c.Arguments)))
    {
        Aliases = ["guided_grad_cam", "guided-grad-cam", "guided-gradcam"],
        TakesComposite = false,
        Describe = (v, _) => $"guided Grad-CAM at {(v.TryGetValue("layer", out string? layer) ? layer : "?")} ({v["upsample"]} upsampling)",
    };

    /// <summary>Creates the attributor.</summary>
    /// <exception cref="ArgumentException">The model has no layer of that name (the message names the nearest ones).</exception>
    public GuidedGradCam(nn.Module<Tensor, Tensor> model, string layer, AttributionTarget? target = null, Upsampling upsampling = Upsampling.Nearest)
        : base(model, null, target)
    {
        gradCam = new GradCam(model, layer, target, upsampling, relu: true) { RequireFinite = false };
        guided = new Gradient(model, new GuidedBackprop(), target) { RequireFinite = false };
    }

    /// <summary>The layer's dotted name.</summary>
    public string Layer => gradCam.Layer;

    /// <summary>How the map is brought to the input's resolution.</summary>
    public Upsampling Upsampling => gradCam.Upsampling;

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        var (output, map) = gradCam.Map(input, target);
        using AttributionResult backprop = guided.Attribute(input, target);
        if (Layers is { } request && request.Names.SequenceEqual([Layer]))
        {
            request.Result = [map];
        }
        Tensor upsampled = GradCam.ToInput(map, input, Upsampling);
        return (output, backprop.Relevance * upsampled);
    }
}
