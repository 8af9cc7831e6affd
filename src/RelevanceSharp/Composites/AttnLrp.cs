using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;

namespace RelevanceSharp.Composites;

/// <summary>
/// AttnLRP (Achtibat et al., "AttnLRP: Attention-Aware Layer-Wise Relevance Propagation for Transformers", ICML 2024),
/// as LXT computes it: Epsilon (or Gamma) on dense layers and convolutions, the identity rule on element-wise
/// activations, the layer-norm rule with the standard deviation held constant, the uniform rule on the attention's
/// two matrix products (so q and k get a quarter and v half of their input-times-gradient relevance), the softmax
/// rule, and input times gradient on residual and position-embedding additions (see <see cref="TransformerLayerMap"/>).
/// Not conservative: biases, the class token, the position embedding and the softmax absorb relevance.
/// </summary>
public sealed class AttnLrp : TransformerComposite
{
    /// <summary>The registry entry: <c>attnlrp</c>, with <c>epsilon</c>, <c>linear_gamma</c> and <c>conv_gamma</c>.</summary>
    [RegistryEntry(100)]
    public static CompositeEntry Entry { get; } = new("attnlrp", "AttnLRP for transformers: Epsilon on dense layers and convolutions, identity on activations, LayerNorm and softmax rules, uniform rule on products.", Arguments,
        (a, c) => new AttnLrp(a.Number(EpsilonArgument), OptionalGamma(a, LinearGammaArgument), OptionalGamma(a, ConvGammaArgument), c));

    /// <summary>Creates the composite.</summary>
    /// <param name="epsilon">The stabilizer of Epsilon on dense layers and convolutions (default 1e-6).</param>
    /// <param name="linearGamma">With a value, dense layers (q, k, v, out, MLP, head) get Gamma with it instead of Epsilon.</param>
    /// <param name="convGamma">With a value, convolutions (the patch embedding) get Gamma with it instead of Epsilon.</param>
    /// <param name="canonizers">Canonizers applied first.</param>
    /// <param name="layerMap">Entries by layer kind that come before the built-in ones.</param>
    /// <param name="nameMap">Rules for modules by full name, before everything else (e.g. for one attention's <c>q</c>).</param>
    public AttnLrp(Stabilizer? epsilon = null, double? linearGamma = null, double? convGamma = null, IEnumerable<ICanonizer>? canonizers = null,
        IEnumerable<(ModuleMatcher, Rule)>? layerMap = null, IEnumerable<(IReadOnlyCollection<string> Names, Rule Rule)>? nameMap = null)
        : base(false, epsilon, linearGamma, convGamma, canonizers, layerMap, nameMap)
    {
    }
}
