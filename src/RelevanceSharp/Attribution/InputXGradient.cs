using RelevanceSharp.Composites;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// Input x Gradient (Captum's <c>InputXGradient</c>; Shrikumar et al. 2016): each input element times the gradient of the
/// target there, <c>x * df/dx</c>. At layers asked for, each layer's output times the gradient reaching it (Captum's
/// <c>LayerGradientXActivation</c>). With a composite, the product is taken with the modified gradient.
/// </summary>
public sealed class InputXGradient : Attributor
{
    /// <summary>The registry entry: <c>input_x_gradient</c> (also <c>inputxgradient</c>, Captum's class name in lower case).</summary>
    [RegistryEntry(15)]
    public static MethodEntry Entry { get; } = new("input_x_gradient", "Input x Gradient: each input element times the gradient there.", [],
        c => new InputXGradient(c.Model, c.Composite, c.Target))
    {
        Aliases = ["inputxgradient", "input-x-gradient"],
        Describe = (_, composite) => "input x gradient" + (composite is null ? "" : $" of LRP with {composite}"),
    };

    /// <summary>Creates the attributor.</summary>
    public InputXGradient(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null)
        : base(model, composite, target)
    {
    }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        var (output, gradient) = Gradient(input, target);
        if (Layers is { LastActivations: { } activations, LastGradients: { } gradients } layers)
        {
            layers.Result = activations.Zip(gradients, (a, g) => a * g).ToList();
        }
        return (output, input * gradient);
    }
}
