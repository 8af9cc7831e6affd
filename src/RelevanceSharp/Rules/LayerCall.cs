using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// What the engine hands a rule's <see cref="BasicRule.Shortcut"/> about one call of a layer: the module, its input and
/// output (detached), and its effective parameters (a merged batch norm's contribution folded in, as every term sees
/// them).
/// </summary>
/// <param name="Module">The layer.</param>
/// <param name="Input">Its input in this call, detached.</param>
/// <param name="Output">Its output in this call, detached.</param>
/// <param name="Parameters">The parameters the layer computed with, by name (<c>weight</c>, <c>bias</c>).</param>
public sealed record LayerCall(nn.Module<Tensor, Tensor> Module, Tensor Input, Tensor Output, IReadOnlyDictionary<string, Tensor?> Parameters)
{
    /// <summary>The effective bias, or <c>null</c> for a layer without one.</summary>
    public Tensor? Bias => Parameters.TryGetValue("bias", out Tensor? bias) ? bias : null;

    /// <summary>The dimension of the output that holds the channels: the last for dense layers, else 1.</summary>
    public long ChannelDim => Module is Linear ? Output.dim() - 1 : 1;
}
