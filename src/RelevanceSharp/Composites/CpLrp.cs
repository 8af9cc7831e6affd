using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;

namespace RelevanceSharp.Composites;

/// <summary>
/// CP-LRP (Ali et al., "XAI for Transformers: Better Explanations through Conservative Propagation", ICML 2022), as LXT
/// computes it: as <see cref="AttnLrp"/>, except that gated products hold their gate constant (<c>ConstantGate</c>):
/// the attention weights act as constants, so no relevance flows through the softmax, q and k, and v takes all of it;
/// a gated MLP's gate likewise. With biases, the class token and the position embedding at zero it conserves the
/// relevance of the explained logit, up to the stabilizers.
/// </summary>
public sealed class CpLrp : TransformerComposite
{
    /// <summary>The registry entry: <c>cp_lrp</c>, with <c>epsilon</c>, <c>linear_gamma</c> and <c>conv_gamma</c>.</summary>
    [RegistryEntry(110)]
    public static CompositeEntry Entry { get; } = new("cp_lrp", "CP-LRP for transformers: as attnlrp, with the attention weights (and other gates) held constant.", Arguments,
        (a, c) => new CpLrp(a.Number(EpsilonArgument), OptionalGamma(a, LinearGammaArgument), OptionalGamma(a, ConvGammaArgument), c));

    /// <summary>Creates the composite.</summary>
    /// <param name="epsilon">The stabilizer of Epsilon on dense layers and convolutions (default 1e-6).</param>
    /// <param name="linearGamma">With a value, dense layers get Gamma with it instead of Epsilon.</param>
    /// <param name="convGamma">With a value, convolutions (the patch embedding) get Gamma with it instead of Epsilon.</param>
    /// <param name="canonizers">Canonizers applied first.</param>
    /// <param name="layerMap">Entries by layer kind that come before the built-in ones.</param>
    /// <param name="nameMap">Rules for modules by full name, before everything else.</param>
    public CpLrp(Stabilizer? epsilon = null, double? linearGamma = null, double? convGamma = null, IEnumerable<ICanonizer>? canonizers = null,
        IEnumerable<(ModuleMatcher, Rule)>? layerMap = null, IEnumerable<(IReadOnlyCollection<string> Names, Rule Rule)>? nameMap = null)
        : base(true, epsilon, linearGamma, convGamma, canonizers, layerMap, nameMap)
    {
    }
}
