using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>DeconvNet: ReLUs pass only positive gradients, ignoring the forward mask.</summary>
public sealed class DeconvNet : LayerMapComposite
{
    /// <summary>The registry entry: <c>deconvnet</c>.</summary>
    [RegistryEntry(60)]
    public static CompositeEntry Entry { get; } = new("deconvnet", "DeconvNet: ReLUs pass positive gradients only.", [],
        (a, c) => new DeconvNet(c));

    /// <summary>Creates the composite.</summary>
    public DeconvNet(IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base((layerMap ?? Array.Empty<(ModuleMatcher, Rule)>()).Append((LayerTypes.ReLU, (Rule)new ReLUDeconvNet())), canonizers)
    {
    }
}
