using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// Replaces the bias of a linear layer or convolution while a canonizer is applied: a vector over output
/// features, or a map over output positions (channels first, no batch dimension) that may depend on the spatial
/// size of the input. Rules treat it exactly as the layer's bias.
/// </summary>
public abstract class BiasOverride
{
    /// <summary>The effective bias for an input of the given shape (batch dimension included).</summary>
    public abstract Tensor Resolve(long[] inputShape);
}
