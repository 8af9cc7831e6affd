using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// The tensors a rule's backward step hands to libtorch. TorchSharp's custom functions give libtorch a copy of the
/// returned handle once the backward function has returned, and leave the handle itself to its owner: it is kept
/// here and released when the next backward step starts on the same thread (the copy has been made by then) or when
/// the attribution ends.
/// </summary>
internal static class HandedBack
{
    [ThreadStatic]
    private static Tensor[]? held;

    public static void Hold(params Tensor[] tensors)
    {
        Release();
        held = tensors;
    }

    /// <summary>Drops the handles held on this thread, if any.</summary>
    public static void Release()
    {
        if (held is not null)
        {
            foreach (Tensor tensor in held)
            {
                tensor.Dispose();
            }
        }
        held = null;
    }
}
