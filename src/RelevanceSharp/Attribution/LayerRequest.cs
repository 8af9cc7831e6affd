using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// The layers one call of <see cref="Attributor.Attribute(Tensor, AttributionTarget?, IEnumerable{string})"/> asked for,
/// as a method's <c>Compute</c> sees them (<see cref="Attributor.Layers"/>). Every gradient the method takes through
/// <c>Attributor.Gradient</c> during the call also returns what reaches these layers, in the same backward pass
/// (<see cref="LastGradients"/>); a method that can say what it gives at a layer sets <see cref="Result"/> from them.
/// </summary>
public sealed class LayerRequest
{
    internal LayerRequest(LayerTap tap) => Tap = tap;

    /// <summary>The tapped layers.</summary>
    public LayerTap Tap { get; }

    /// <summary>The layers' names, in the order asked for.</summary>
    public IReadOnlyList<string> Names => Tap.Names;

    /// <summary>
    /// What reached each layer's output in the last gradient pass (the relevance with a composite, the gradient without),
    /// in the order of <see cref="Names"/>; <c>null</c> before the first pass.
    /// </summary>
    public IReadOnlyList<Tensor>? LastGradients { get; internal set; }

    /// <summary>Each layer's output (detached) in the last gradient pass; <c>null</c> before the first pass.</summary>
    public IReadOnlyList<Tensor>? LastActivations { get; internal set; }

    /// <summary>
    /// What the method gives at each layer, in the order of <see cref="Names"/>; a method that leaves it <c>null</c> does
    /// not give layer results, and the call is refused.
    /// </summary>
    public IReadOnlyList<Tensor>? Result { get; set; }
}
