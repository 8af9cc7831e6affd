using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>ReLU gradients replaced by the softplus gradient of sharpness beta (for second-order attributions).</summary>
public sealed class BetaSmooth : LayerMapComposite
{
    /// <summary>The registry entry: <c>beta_smooth</c>.</summary>
    [RegistryEntry(90)]
    public static CompositeEntry Entry { get; } = new("beta_smooth", "ReLU gradients replaced by the softplus gradient (for second-order attributions).",
        [CompositeArguments.BetaSmooth],
        (a, c) => new BetaSmooth(a.Number(CompositeArguments.BetaSmooth), c));

    /// <summary>Creates the composite.</summary>
    public BetaSmooth(double betaSmooth = ReLUBetaSmooth.DefaultBeta, IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base((layerMap ?? Array.Empty<(ModuleMatcher, Rule)>()).Append((LayerTypes.ReLU, (Rule)new ReLUBetaSmooth(betaSmooth))), canonizers)
    {
    }
}
