using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>Flat for the first linear layer (dense or convolution), ZPlus for convolutions, Epsilon for dense layers.</summary>
public sealed class EpsilonPlusFlat : SpecialFirstLayerMapComposite
{
    /// <summary>The registry entry: <c>epsilon_plus_flat</c>.</summary>
    [RegistryEntry(40)]
    public static CompositeEntry Entry { get; } = new("epsilon_plus_flat", "Flat on the first linear layer, ZPlus on convolutions, Epsilon on dense layers.",
        [CompositeArguments.Epsilon, CompositeArguments.Stabilizer, CompositeArguments.ZeroParams],
        (a, c) => new EpsilonPlusFlat(a.Number(CompositeArguments.Epsilon), a.Stabilizer(), a.Strings("zero_params"), c));

    /// <summary>Creates the composite.</summary>
    public EpsilonPlusFlat(Stabilizer? epsilon = null, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null,
        IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null,
        IEnumerable<(ModuleMatcher, Rule)>? firstMap = null)
        : base(
            BaseLayerMap.WithEpsilon(layerMap, stabilizer, new ZPlus(stabilizer, zeroParameters), epsilon, zeroParameters),
            BaseLayerMap.First(firstMap, LayerTypes.Linear, new Flat(stabilizer, zeroParameters)),
            canonizers)
    {
    }
}
