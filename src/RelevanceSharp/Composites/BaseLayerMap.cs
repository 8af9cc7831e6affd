using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>The layer map every LRP composite starts from (zennit's <c>layer_map_base</c>).</summary>
public static class BaseLayerMap
{
    /// <summary>
    /// Activations and batch norms pass relevance through; sums, average pools and other parameter-free linear maps
    /// (<see cref="Layers.ILinearOperation"/>: means, sums over axes) normalize it. Beyond zennit's map, for what
    /// imported graphs and transformers contain: a product of two computed tensors whose module names a gate (a
    /// squeeze-and-excitation gate, SiLU written as <c>x * sigmoid(x)</c>, a divisor) holds the gate constant
    /// (<see cref="ConstantGate"/>: all relevance to the gated factor, none into the gate's branch, as for attention
    /// weights under CP-LRP), any other product splits it evenly among its factors (<see cref="Uniform"/>, AttnLRP's
    /// rule); a layer norm takes AttnLRP's rule (linear in its input with the standard deviation held constant).
    /// </summary>
    public static IReadOnlyList<(ModuleMatcher Kind, Rule Rule)> Create(Stabilizer? stabilizer = null) => new (ModuleMatcher, Rule)[]
    {
        (LayerTypes.Activation, new Pass()),
        (LayerTypes.Sum, new Norm(stabilizer)),
        (LayerTypes.AvgPool, new Norm(stabilizer)),
        (LayerTypes.LinearOperation, new Norm(stabilizer)),
        (LayerTypes.BatchNorm, new Pass()),
        (LayerTypes.GatedProduct, new ConstantGate()),
        (LayerTypes.Product, new Uniform()),
        (LayerTypes.LayerNorm, new LayerNormRule()),
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
