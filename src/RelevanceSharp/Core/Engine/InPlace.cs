using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>Which modules may write into their input tensor.</summary>
internal static class InPlace
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, System.Reflection.PropertyInfo?> InplaceFlags = new();

    /// <summary>
    /// False for layers known never to write into their input (linear layers, convolutions, batch norms, pools,
    /// reshapes, sums) and for activations whose <c>inplace</c> flag is off; true otherwise, to be safe.
    /// </summary>
    public static bool MayModifyInput(nn.Module module)
    {
        if (module is TorchSharp.Modules.Linear or TorchSharp.Modules.Convolution or TorchSharp.Modules.BatchNorm
            or TorchSharp.Modules.Flatten or TorchSharp.Modules.Identity or Layers.Sum
            || LayerTypes.AvgPool.Matches(module) || LayerTypes.MaxPool.Matches(module))
        {
            return false;
        }
        System.Reflection.PropertyInfo? flag = InplaceFlags.GetOrAdd(module.GetType(),
            type => type.GetProperty("inplace") is { } property && property.PropertyType == typeof(bool) ? property : null);
        return flag is null || (bool)flag.GetValue(module)!;
    }

    /// <summary>
    /// An empty slice (no samples) of <paramref name="input"/>, outside the graph, for a module call whose result is
    /// computed elsewhere: the module still runs, cheaply, and cannot destroy or extend the input's history;
    /// <c>null</c> for an input without a batch dimension or samples, which the module must get as it is.
    /// </summary>
    public static Tensor? EmptyBatch(Tensor input) =>
        input.dim() >= 1 && input.shape[0] > 0 ? input.detach().narrow(0, 0, 0) : null;
}
