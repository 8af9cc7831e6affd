using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Language.Explaining;

/// <summary>
/// AttnLRP and CP-LRP as LXT's LLaMA recipes apply them to decoders: the transformer rules by layer type (RMSNorm with
/// its scale held constant: <c>Pass</c>; SiLU: the identity rule; the MLP's product and the attention's two matrix
/// products: the uniform rule, or under CP-LRP the gate held constant; softmax: AttnLRP's softmax rule; rotary
/// embedding: input x gradient; residual additions: input x gradient), and on the Linear layers exact input x gradient
/// (<c>Epsilon</c> with <see cref="Stabilizer.Exact"/>), where LXT's vision recipe uses Epsilon with 1e-6: a stabilizer
/// of 1e-6 on the projections moves llama_tiny's relevance by 1e-5 to 4e-5 of its largest value, outside the reference
/// cases' tolerance.
/// </summary>
public static class DecoderComposites
{
    /// <summary>The method names <see cref="Create"/> knows, besides the gradient methods.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "attnlrp", "cp_lrp" };

    /// <summary>AttnLRP for decoders.</summary>
    /// <param name="epsilon">The stabilizer of the Linear layers; <see cref="Stabilizer.Exact"/> when <c>null</c>.</param>
    public static Composite AttnLrp(Stabilizer? epsilon = null) => new LayerMapComposite(LayerMap(false, epsilon));

    /// <summary>CP-LRP for decoders: attention weights and the MLP's gate held constant.</summary>
    /// <param name="epsilon">The stabilizer of the Linear layers; <see cref="Stabilizer.Exact"/> when <c>null</c>.</param>
    public static Composite CpLrp(Stabilizer? epsilon = null) => new LayerMapComposite(LayerMap(true, epsilon));

    /// <summary>The composite of a name in <see cref="Names"/>.</summary>
    /// <exception cref="ArgumentException">The name is not one of them.</exception>
    public static Composite Create(string name, Stabilizer? epsilon = null) => name switch
    {
        "attnlrp" => AttnLrp(epsilon),
        "cp_lrp" => CpLrp(epsilon),
        _ => throw new ArgumentException($"Unknown decoder composite '{name}' (known: {string.Join(", ", Names)})."),
    };

    /// <summary>
    /// The method of a name: <c>gradient</c>, <c>input_x_gradient</c>, or LRP with one of <see cref="Names"/>.
    /// </summary>
    public static TextMethod Method(string name, Stabilizer? epsilon = null) => name switch
    {
        "gradient" => TextMethod.Gradient,
        "input_x_gradient" or "inputxgradient" or "input-x-gradient" => TextMethod.InputTimesGradient,
        _ when Names.Contains(name) => TextMethod.Lrp(name, Create(name, epsilon)),
        _ => throw new ArgumentException(
            $"Unknown method '{name}' for a language model (known: {string.Join(", ", Names.Append("gradient").Append("input_x_gradient"))})."),
    };

    // TODO(i25-vit): the named composites AttnLrp and CpLrp (with epsilon Stabilizer.Exact) replace this map when they
    // land on main; it maps the same layer types to the same rules.
    private static IEnumerable<(ModuleMatcher, Rule)> LayerMap(bool constantGates, Stabilizer? epsilon)
    {
        var map = new List<(ModuleMatcher, Rule)>
        {
            (LayerTypes.Activation, new Pass()),
            (LayerTypes.RMSNorm, new Pass()),
            (LayerTypes.Sum, new Norm(Stabilizer.Exact)),
        };
        if (constantGates)
        {
            map.Add((LayerTypes.GatedProduct, new ConstantGate()));
        }
        map.AddRange(new (ModuleMatcher, Rule)[]
        {
            (LayerTypes.Product, new Uniform()),
            (LayerTypes.Softmax, new SoftmaxRule()),
            (LayerTypes.LayerNorm, new LayerNormRule()),
            (LayerTypes.LinearOperation, new Epsilon(Stabilizer.Exact)),
            (LayerTypes.Dense, new Epsilon(epsilon ?? Stabilizer.Exact)),
        });
        return map;
    }
}
