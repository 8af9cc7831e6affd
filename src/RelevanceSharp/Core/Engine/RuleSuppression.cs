using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// Calls of a module that a canonizer computes itself and that rules must leave alone (a ThreshReLU call of a ReLU
/// module). Kept per thread: a forward pass runs on one thread.
/// </summary>
internal static class RuleSuppression
{
    [ThreadStatic]
    private static Dictionary<nn.Module, int>? depth;

    public static void Enter(nn.Module module)
    {
        depth ??= new Dictionary<nn.Module, int>(ReferenceEqualityComparer.Instance);
        depth[module] = depth.GetValueOrDefault(module) + 1;
    }

    public static void Exit(nn.Module module)
    {
        if (depth is not null && depth.TryGetValue(module, out int count))
        {
            if (count <= 1)
            {
                depth.Remove(module);
            }
            else
            {
                depth[module] = count - 1;
            }
        }
    }

    public static bool IsSuppressed(nn.Module module) => depth is not null && depth.ContainsKey(module);
}
