using RelevanceSharp.Composites;
using RelevanceSharp.Core;

namespace RelevanceSharp.Language.Explaining;

/// <summary>
/// The named composites <c>attnlrp</c> (<see cref="Composites.AttnLrp"/>) and <c>cp_lrp</c> (<see cref="Composites.CpLrp"/>)
/// as LXT's LLaMA recipes apply them to decoders: the same rules by layer type as for vision transformers
/// (<see cref="TransformerLayerMap"/>: RMSNorm with its scale held constant, the identity rule on SiLU, the uniform rule
/// on the MLP's product and the attention's two matrix products, or under CP-LRP the gate held constant, the softmax
/// rule, input x gradient on the rotary embedding and the residual additions), with one difference of default: the
/// Linear layers get exact input x gradient (<c>Epsilon</c> with <see cref="Stabilizer.Exact"/>) unless an epsilon is
/// given, as LXT leaves a LLaMA's projections to the plain gradient, where its vision recipe uses Epsilon with 1e-6. A
/// stabilizer of 1e-6 on the projections moves llama_tiny's relevance by 1e-5 to 4e-5 of its largest value, outside
/// the reference cases' tolerance.
/// </summary>
public static class DecoderComposites
{
    /// <summary>The method names <see cref="Create"/> knows, besides the gradient methods.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "attnlrp", "cp_lrp" };

    /// <summary>AttnLRP for decoders.</summary>
    /// <param name="epsilon">The stabilizer of the Linear layers; <see cref="Stabilizer.Exact"/> when <c>null</c>.</param>
    public static Composite AttnLrp(Stabilizer? epsilon = null) => new Composites.AttnLrp(epsilon ?? Stabilizer.Exact);

    /// <summary>CP-LRP for decoders: attention weights and the MLP's gate held constant.</summary>
    /// <param name="epsilon">The stabilizer of the Linear layers; <see cref="Stabilizer.Exact"/> when <c>null</c>.</param>
    public static Composite CpLrp(Stabilizer? epsilon = null) => new Composites.CpLrp(epsilon ?? Stabilizer.Exact);

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
}
