using static TorchSharp.torch;

namespace RelevanceSharp.Layers;

/// <summary>
/// A module whose state-dict entries are laid out otherwise than its parameters: <see cref="MultiheadSelfAttention"/>
/// keeps q, k and v as three Linear layers and lists them as PyTorch does, as one <c>in_proj_weight</c>. Every entry
/// aliases the module's memory, so writing into it (loading a checkpoint) changes the module, as for an ordinary
/// parameter. <c>TorchOrder.StateDict</c>, and so the model zoo's networks, list such a module by these entries.
/// </summary>
public interface IStateDictLayout
{
    /// <summary>The module's entries (its descendants' included) with names relative to the module, in PyTorch's order.</summary>
    IEnumerable<(string Name, Tensor Tensor)> StateDictEntries();
}
