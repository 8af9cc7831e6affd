using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;

namespace RelevanceSharp.Composites;

/// <summary>
/// The rules of AttnLRP and CP-LRP by layer kind, so that one map covers vision transformers and language models:
/// activations (GELU, Tanh, SiLU, ...) and RMS norms <c>Pass</c> (AttnLRP's identity rule); sums, residual additions
/// and average pools <c>Norm</c> with <see cref="Stabilizer.Exact"/>; products <c>Uniform</c> (under CP-LRP, products
/// with a gate <c>ConstantGate</c>); softmax <c>SoftmaxRule</c>; layer norms <c>LayerNormRule</c>; parameter-free linear
/// operations input times gradient (<c>Epsilon</c> with <see cref="Stabilizer.Exact"/>); dense layers and
/// convolutions <c>Epsilon</c>, or <c>Gamma</c> when a gamma is given for them.
/// </summary>
public static class TransformerLayerMap
{
    /// <summary>The layer map, searched in order (the first matching kind gives the rule).</summary>
    /// <param name="constantGates">CP-LRP: gated products (attention weights times values, gated MLPs) hold the gate
    /// constant, so no relevance flows into it.</param>
    /// <param name="epsilon">The stabilizer of Epsilon on dense layers and convolutions (1e-6 when <c>null</c>).</param>
    /// <param name="linearGamma">With a value, dense layers get Gamma with this gamma instead of Epsilon.</param>
    /// <param name="convGamma">With a value, convolutions (a patch embedding) get Gamma with this gamma instead of Epsilon.</param>
    /// <param name="gammaStabilizer">The stabilizer of Gamma (1e-6 when <c>null</c>, as in zennit).</param>
    public static IReadOnlyList<(ModuleMatcher Kind, Rule Rule)> Create(bool constantGates, Stabilizer? epsilon = null,
        double? linearGamma = null, double? convGamma = null, Stabilizer? gammaStabilizer = null)
    {
        Stabilizer eps = epsilon ?? new Stabilizer();
        var map = new List<(ModuleMatcher, Rule)>
        {
            (LayerTypes.Activation, new Pass()),
            (LayerTypes.RMSNorm, new Pass()),
            (LayerTypes.Sum, new Norm(Stabilizer.Exact)),
            (LayerTypes.AvgPool, new Norm(Stabilizer.Exact)),
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
            (LayerTypes.Convolution, convGamma is { } cg ? new Gamma(cg, gammaStabilizer) : new Epsilon(eps)),
            (LayerTypes.Dense, linearGamma is { } lg ? new Gamma(lg, gammaStabilizer) : new Epsilon(eps)),
        });
        return map;
    }
}

/// <summary>
/// Base of the transformer composites <see cref="AttnLrp"/> and <see cref="CpLrp"/>: rules by module name first (any
/// module, such as one attention's <c>q</c> projection), then the user's layer map, then
/// <see cref="TransformerLayerMap"/>.
/// </summary>
public abstract class TransformerComposite : Composite
{
    /// <summary><c>epsilon</c>: the Epsilon rule's stabilizer on dense layers and convolutions.</summary>
    public static ArgumentSpec EpsilonArgument { get; } =
        ArgumentSpec.Number("epsilon", Stabilizer.DefaultEpsilon, "Epsilon of the Epsilon rule on dense layers and convolutions.");

    /// <summary><c>linear_gamma</c>: with a value, Gamma with this gamma on dense layers instead of Epsilon.</summary>
    public static ArgumentSpec LinearGammaArgument { get; } =
        new ArgumentSpec("linear_gamma", "number", null, "Gamma on dense layers instead of Epsilon (LXT's example: 0.05).") { Kind = ArgumentKind.Number, Minimum = 0 };

    /// <summary><c>conv_gamma</c>: with a value, Gamma with this gamma on convolutions (the patch embedding) instead of Epsilon.</summary>
    public static ArgumentSpec ConvGammaArgument { get; } =
        new ArgumentSpec("conv_gamma", "number", null, "Gamma on convolutions (the patch embedding) instead of Epsilon (LXT's example: 0.25).") { Kind = ArgumentKind.Number, Minimum = 0 };

    /// <summary>The arguments both transformer composites take.</summary>
    internal static IReadOnlyList<ArgumentSpec> Arguments { get; } = [EpsilonArgument, LinearGammaArgument, ConvGammaArgument];

    /// <summary>A gamma argument's value, or <c>null</c> when it was not given.</summary>
    internal static double? OptionalGamma(ArgumentReader arguments, ArgumentSpec spec) =>
        arguments.Has(spec.Name) ? arguments.Number(spec.Name, double.NaN) : null;

    /// <summary>Creates the composite.</summary>
    protected TransformerComposite(bool constantGates, Stabilizer? epsilon, double? linearGamma, double? convGamma,
        IEnumerable<ICanonizer>? canonizers, IEnumerable<(ModuleMatcher, Rule)>? layerMap,
        IEnumerable<(IReadOnlyCollection<string> Names, Rule Rule)>? nameMap)
        : base(canonizers)
    {
        foreach (double? gamma in new[] { linearGamma, convGamma })
        {
            if (gamma is { } g && !(g >= 0.0 && double.IsFinite(g)))
            {
                throw new ArgumentOutOfRangeException(nameof(linearGamma), g, "A gamma must be a finite non-negative number.");
            }
        }
        NameMap = nameMap?.ToArray() ?? [];
        LayerMap = (layerMap ?? []).Concat(TransformerLayerMap.Create(constantGates, epsilon, linearGamma, convGamma)).ToArray();
    }

    /// <summary>Rules for modules given by their full names (e.g. <c>encoder.layers.encoder_layer_0.self_attention.q</c>), consulted first.</summary>
    public IReadOnlyList<(IReadOnlyCollection<string> Names, Rule Rule)> NameMap { get; }

    /// <summary>The (kind, rule) entries after the name map: the user's, then <see cref="TransformerLayerMap"/>.</summary>
    public IReadOnlyList<(ModuleMatcher Kind, Rule Rule)> LayerMap { get; }

    /// <inheritdoc />
    public override Rule? MapModule(IDictionary<string, object> context, string name, torch.nn.Module module)
    {
        foreach (var (names, rule) in NameMap)
        {
            if (names.Contains(name))
            {
                return rule;
            }
        }
        foreach (var (kind, rule) in LayerMap)
        {
            if (kind.Matches(module))
            {
                return rule;
            }
        }
        return null;
    }
}
