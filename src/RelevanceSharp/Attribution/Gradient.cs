using RelevanceSharp.Composites;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>The gradient, or with a composite the modified gradient, which is LRP.</summary>
public sealed class Gradient : Attributor
{
    /// <summary>The registry entry: <c>gradient</c>, which with a composite is LRP.</summary>
    [RegistryEntry(10)]
    public static MethodEntry Entry { get; } = new("gradient", "The gradient; with a composite, the modified gradient (LRP).", [],
        c => new Gradient(c.Model, c.Composite, c.Target))
    {
        Describe = (_, composite) => composite is null ? "gradient" : $"LRP with {composite}",
    };

    /// <summary>Creates the attributor.</summary>
    public Gradient(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null)
        : base(model, composite, target)
    {
    }

    /// <inheritdoc />
    /// <remarks>At layers asked for: what reaches each layer's output, the relevance with a composite, the gradient without.</remarks>
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        var result = Gradient(input, target);
        if (Layers is { } layers)
        {
            layers.Result = layers.LastGradients;
        }
        return result;
    }
}
