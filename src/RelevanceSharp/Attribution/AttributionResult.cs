using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>The result of one attribution: the model output and the relevance of each input element.</summary>
public sealed record AttributionResult(Tensor Output, Tensor Relevance) : IDisposable
{
    /// <summary>Releases both tensors.</summary>
    public void Dispose()
    {
        Output.Dispose();
        Relevance.Dispose();
    }
}
