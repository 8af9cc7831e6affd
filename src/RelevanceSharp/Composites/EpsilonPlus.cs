using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>ZPlus for convolutions, Epsilon for dense layers.</summary>
public sealed class EpsilonPlus : LayerMapComposite
{
    /// <summary>The registry entry: <c>epsilon_plus</c>.</summary>
    [RegistryEntry(20)]
    public static CompositeEntry Entry { get; } = new("epsilon_plus", "ZPlus on convolutions, Epsilon on dense layers.",
        [CompositeArguments.Epsilon, CompositeArguments.Stabilizer, CompositeArguments.ZeroParams],
        (a, c) => new EpsilonPlus(a.Number(CompositeArguments.Epsilon), a.Stabilizer(), a.Strings("zero_params"), c));

    /// <summary>Creates the composite.</summary>
    public EpsilonPlus(Stabilizer? epsilon = null, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null,
        IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base(
            BaseLayerMap.WithEpsilon(layerMap, stabilizer, new ZPlus(stabilizer, zeroParameters), epsilon, zeroParameters),
            canonizers)
    {
    }
}
