using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>The layer map every LRP composite starts from (zennit's <c>layer_map_base</c>).</summary>
public static class BaseLayerMap
{
    /// <summary>Activations and batch norms pass relevance through; sums and average pools normalize it.</summary>
    public static IReadOnlyList<(ModuleMatcher Kind, Rule Rule)> Create(Stabilizer? stabilizer = null) => new (ModuleMatcher, Rule)[]
    {
        (LayerTypes.Activation, new Pass()),
        (LayerTypes.Sum, new Norm(stabilizer)),
        (LayerTypes.AvgPool, new Norm(stabilizer)),
        (LayerTypes.BatchNorm, new Pass()),
    };

    /// <summary>
    /// The layer map of the epsilon composites: the user's entries first, then the base map, then
    /// <paramref name="convolution"/> for convolutions and Epsilon for dense layers.
    /// </summary>
    internal static IEnumerable<(ModuleMatcher, Rule)> WithEpsilon(IEnumerable<(ModuleMatcher, Rule)>? user, Stabilizer? stabilizer,
        Rule convolution, Stabilizer? epsilon, IReadOnlyList<string>? zeroParameters) =>
        (user ?? Array.Empty<(ModuleMatcher, Rule)>()).Concat(Create(stabilizer)).Concat(new (ModuleMatcher, Rule)[]
        {
            (LayerTypes.Convolution, convolution),
            (LayerTypes.Dense, new Epsilon(epsilon ?? new Stabilizer(), zeroParameters)),
        });

    /// <summary>The user's first-layer entries, then <paramref name="rule"/> for the first layer of the given kind.</summary>
    internal static IEnumerable<(ModuleMatcher, Rule)> First(IEnumerable<(ModuleMatcher, Rule)>? user, ModuleMatcher kind, Rule rule) =>
        (user ?? Array.Empty<(ModuleMatcher, Rule)>()).Append((kind, rule));
}
