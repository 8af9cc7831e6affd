using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using static TorchSharp.torch;

namespace RelevanceSharp.Composites;

/// <summary>
/// ZBox for the first convolution, Gamma for the other convolutions, Epsilon for dense layers.
/// </summary>
public sealed class EpsilonGammaBox : SpecialFirstLayerMapComposite
{
    /// <summary>The registry entry: <c>epsilon_gamma_box</c>.</summary>
    [RegistryEntry(10)]
    public static CompositeEntry Entry { get; } = new("epsilon_gamma_box", "ZBox on the first convolution, Gamma on convolutions, Epsilon on dense layers.",
        [CompositeArguments.Low, CompositeArguments.High, CompositeArguments.Epsilon, CompositeArguments.Gamma, CompositeArguments.Stabilizer, CompositeArguments.ZeroParams],
        (a, c) => new EpsilonGammaBox(
            a.NumberOrChannels("low") ?? throw new ArgumentException("epsilon_gamma_box needs the argument 'low'."),
            a.NumberOrChannels("high") ?? throw new ArgumentException("epsilon_gamma_box needs the argument 'high'."),
            a.Number(CompositeArguments.Epsilon), a.Number(CompositeArguments.Gamma), a.Stabilizer(), a.Strings("zero_params"), c));

    /// <summary>Creates the composite with scalar input bounds.</summary>
    public EpsilonGammaBox(double low, double high, Stabilizer? epsilon = null, double gamma = Gamma.DefaultGamma, Stabilizer? stabilizer = null,
        IReadOnlyList<string>? zeroParameters = null, IEnumerable<ICanonizer>? canonizers = null,
        IEnumerable<(ModuleMatcher, Rule)>? layerMap = null, IEnumerable<(ModuleMatcher, Rule)>? firstMap = null)
        : this(new ZBox(low, high, stabilizer, zeroParameters), epsilon, gamma, stabilizer, zeroParameters, canonizers, layerMap, firstMap)
    {
    }

    /// <summary>Creates the composite with tensor input bounds (e.g. per channel).</summary>
    public EpsilonGammaBox(Tensor low, Tensor high, Stabilizer? epsilon = null, double gamma = Gamma.DefaultGamma, Stabilizer? stabilizer = null,
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
