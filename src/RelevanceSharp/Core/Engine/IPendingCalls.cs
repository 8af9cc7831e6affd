using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>Registrations that keep per-call state which can be dropped once no backward pass will need it.</summary>
internal interface IPendingCalls
{
    /// <summary>Releases the tensors of calls whose backward pass has not run (or may run again).</summary>
    void ReleasePending();
}
