using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>Guided backpropagation: ReLUs pass the gradient only where both the forward mask and the gradient are positive.</summary>
public sealed class GuidedBackprop : LayerMapComposite
{
    /// <summary>The registry entry: <c>guided_backprop</c>.</summary>
    [RegistryEntry(70)]
    public static CompositeEntry Entry { get; } = new("guided_backprop", "Guided backpropagation.", [],
        (a, c) => new GuidedBackprop(c));

    /// <summary>Creates the composite.</summary>
    public GuidedBackprop(IEnumerable<ICanonizer>? canonizers = null, IEnumerable<(ModuleMatcher, Rule)>? layerMap = null)
        : base((layerMap ?? Array.Empty<(ModuleMatcher, Rule)>()).Append((LayerTypes.ReLU, (Rule)new ReLUGuidedBackprop())), canonizers)
    {
    }
}
