using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>AlphaBeta(2, 1) for convolutions, Epsilon for dense layers.</summary>
public sealed class EpsilonAlpha2Beta1 : LayerMapComposite
{
    /// <summary>The registry entry: <c>epsilon_alpha2_beta1</c>.</summary>
    [RegistryEntry(30)]
    public static CompositeEntry Entry { get; } = new("epsilon_alpha2_beta1", "AlphaBeta(2, 1) on convolutions, Epsilon on dense layers.",
        [CompositeArguments.Epsilon, CompositeArguments.Stabilizer, CompositeArguments.ZeroParams],
        (a, c) => new EpsilonAlpha2Beta1(a.Number(CompositeArguments.Epsilon), a.Stabilizer(), a.Strings("zero_params"), c));

    /// <summary>Creates the composite.</summary>
    public EpsilonAlpha2Beta1(Stabilizer? epsilon = null, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null,
        IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base(
            BaseLayerMap.WithEpsilon(layerMap, stabilizer, new AlphaBeta(2.0, 1.0, stabilizer, zeroParameters), epsilon, zeroParameters),
            canonizers)
    {
    }
}
