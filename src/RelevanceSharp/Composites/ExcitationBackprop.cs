using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>Excitation backprop: ZPlus for every linear layer, Norm for sums, average pools and parameter-free linear maps.</summary>
public sealed class ExcitationBackprop : LayerMapComposite
{
    /// <summary>The registry entry: <c>excitation_backprop</c>.</summary>
    [RegistryEntry(80)]
    public static CompositeEntry Entry { get; } = new("excitation_backprop", "Excitation backprop: ZPlus on all linear layers.",
        [CompositeArguments.Stabilizer, CompositeArguments.ZeroParams],
        (a, c) => new ExcitationBackprop(a.Stabilizer(), a.Strings("zero_params"), c));

    /// <summary>Creates the composite.</summary>
    public ExcitationBackprop(Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null,
        IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base(
            (layerMap ?? Array.Empty<(ModuleMatcher, Rule)>()).Concat(new (ModuleMatcher, Rule)[]
            {
                (LayerTypes.Sum, new Norm(stabilizer)),
                (LayerTypes.AvgPool, new Norm(stabilizer)),
                (LayerTypes.LinearOperation, new Norm(stabilizer)),
                (LayerTypes.Linear, new ZPlus(stabilizer, zeroParameters)),
            }),
            canonizers)
    {
    }
}
