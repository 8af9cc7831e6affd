using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// The result of one attribution: the model output, the relevance of each input element and, when layers were asked
/// for (<see cref="Attributor.Attribute(Tensor, AttributionTarget?, IEnumerable{string})"/>), what the method gives at
/// each of them.
/// </summary>
public sealed record AttributionResult(Tensor Output, Tensor Relevance) : IDisposable
{
    /// <summary>
    /// The result at each layer asked for, by name in the order asked: for the gradient with a composite (LRP) the
    /// relevance reaching the layer's output, without one the gradient there, shaped like the layer's output; other
    /// methods say what they give (Grad-CAM: its map at the layer's resolution). Empty when no layer was asked for.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> Layers { get; init; } = new Dictionary<string, Tensor>();

    /// <summary>Releases every tensor.</summary>
    public void Dispose()
    {
        Output.Dispose();
        Relevance.Dispose();
        foreach (Tensor layer in Layers.Values)
        {
            layer.Dispose();
        }
    }
}
