using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using static TorchSharp.torch;

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

/// <summary>
/// ZBox for the first convolution, Gamma for the other convolutions, Epsilon for dense layers.
/// </summary>
public sealed class EpsilonGammaBox : SpecialFirstLayerMapComposite
{
    /// <summary>Creates the composite with scalar input bounds.</summary>
    public EpsilonGammaBox(double low, double high, Stabilizer? epsilon = null, double gamma = 0.25, Stabilizer? stabilizer = null,
        IReadOnlyList<string>? zeroParameters = null, IEnumerable<ICanonizer>? canonizers = null,
        IEnumerable<(ModuleMatcher, Rule)>? layerMap = null, IEnumerable<(ModuleMatcher, Rule)>? firstMap = null)
        : this(new ZBox(low, high, stabilizer, zeroParameters), epsilon, gamma, stabilizer, zeroParameters, canonizers, layerMap, firstMap)
    {
    }

    /// <summary>Creates the composite with tensor input bounds (e.g. per channel).</summary>
    public EpsilonGammaBox(Tensor low, Tensor high, Stabilizer? epsilon = null, double gamma = 0.25, Stabilizer? stabilizer = null,
        IReadOnlyList<string>? zeroParameters = null, IEnumerable<ICanonizer>? canonizers = null,
        IEnumerable<(ModuleMatcher, Rule)>? layerMap = null, IEnumerable<(ModuleMatcher, Rule)>? firstMap = null)
        : this(new ZBox(low, high, stabilizer, zeroParameters), epsilon, gamma, stabilizer, zeroParameters, canonizers, layerMap, firstMap)
    {
    }

    private EpsilonGammaBox(ZBox box, Stabilizer? epsilon, double gamma, Stabilizer? stabilizer, IReadOnlyList<string>? zeroParameters,
        IEnumerable<ICanonizer>? canonizers, IEnumerable<(ModuleMatcher, Rule)>? layerMap, IEnumerable<(ModuleMatcher, Rule)>? firstMap)
        : base(
            BaseLayerMap.WithEpsilon(layerMap, stabilizer, new Gamma(gamma, stabilizer, zeroParameters), epsilon, zeroParameters),
            BaseLayerMap.First(firstMap, LayerTypes.Convolution, box),
            canonizers)
    {
    }
}

/// <summary>ZPlus for convolutions, Epsilon for dense layers.</summary>
public sealed class EpsilonPlus : LayerMapComposite
{
    /// <summary>Creates the composite.</summary>
    public EpsilonPlus(Stabilizer? epsilon = null, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null,
        IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base(
            BaseLayerMap.WithEpsilon(layerMap, stabilizer, new ZPlus(stabilizer, zeroParameters), epsilon, zeroParameters),
            canonizers)
    {
    }
}

/// <summary>AlphaBeta(2, 1) for convolutions, Epsilon for dense layers.</summary>
public sealed class EpsilonAlpha2Beta1 : LayerMapComposite
{
    /// <summary>Creates the composite.</summary>
    public EpsilonAlpha2Beta1(Stabilizer? epsilon = null, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null,
        IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base(
            BaseLayerMap.WithEpsilon(layerMap, stabilizer, new AlphaBeta(2.0, 1.0, stabilizer, zeroParameters), epsilon, zeroParameters),
            canonizers)
    {
    }
}

/// <summary>Flat for the first linear layer (dense or convolution), ZPlus for convolutions, Epsilon for dense layers.</summary>
public sealed class EpsilonPlusFlat : SpecialFirstLayerMapComposite
{
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

/// <summary>Flat for the first linear layer, AlphaBeta(2, 1) for convolutions, Epsilon for dense layers.</summary>
public sealed class EpsilonAlpha2Beta1Flat : SpecialFirstLayerMapComposite
{
    /// <summary>Creates the composite.</summary>
    public EpsilonAlpha2Beta1Flat(Stabilizer? epsilon = null, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null,
        IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null,
        IEnumerable<(ModuleMatcher, Rule)>? firstMap = null)
        : base(
            BaseLayerMap.WithEpsilon(layerMap, stabilizer, new AlphaBeta(2.0, 1.0, stabilizer, zeroParameters), epsilon, zeroParameters),
            BaseLayerMap.First(firstMap, LayerTypes.Linear, new Flat(stabilizer, zeroParameters)),
            canonizers)
    {
    }
}

/// <summary>DeconvNet: ReLUs pass only positive gradients, ignoring the forward mask.</summary>
public sealed class DeconvNet : LayerMapComposite
{
    /// <summary>Creates the composite.</summary>
    public DeconvNet(IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base((layerMap ?? Array.Empty<(ModuleMatcher, Rule)>()).Append((LayerTypes.ReLU, (Rule)new ReLUDeconvNet())), canonizers)
    {
    }
}

/// <summary>Guided backpropagation: ReLUs pass the gradient only where both the forward mask and the gradient are positive.</summary>
public sealed class GuidedBackprop : LayerMapComposite
{
    /// <summary>Creates the composite.</summary>
    public GuidedBackprop(IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base((layerMap ?? Array.Empty<(ModuleMatcher, Rule)>()).Append((LayerTypes.ReLU, (Rule)new ReLUGuidedBackprop())), canonizers)
    {
    }
}

/// <summary>Excitation backprop: ZPlus for every linear layer, Norm for sums and average pools.</summary>
public sealed class ExcitationBackprop : LayerMapComposite
{
    /// <summary>Creates the composite.</summary>
    public ExcitationBackprop(Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null,
        IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base(
            (layerMap ?? Array.Empty<(ModuleMatcher, Rule)>()).Concat(new (ModuleMatcher, Rule)[]
            {
                (LayerTypes.Sum, new Norm(stabilizer)),
                (LayerTypes.AvgPool, new Norm(stabilizer)),
                (LayerTypes.Linear, new ZPlus(stabilizer, zeroParameters)),
            }),
            canonizers)
    {
    }
}

/// <summary>ReLU gradients replaced by the softplus gradient of sharpness beta (for second-order attributions).</summary>
public sealed class BetaSmooth : LayerMapComposite
{
    /// <summary>Creates the composite.</summary>
    public BetaSmooth(double betaSmooth = 10.0, IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base((layerMap ?? Array.Empty<(ModuleMatcher, Rule)>()).Append((LayerTypes.ReLU, (Rule)new ReLUBetaSmooth(betaSmooth))), canonizers)
    {
    }
}
