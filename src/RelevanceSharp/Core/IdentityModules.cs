using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// Modules that a canonizer has made compute the identity for now (a batch norm merged into a neighbouring layer).
/// Rules ask here, not the canonizers: a rule that hands on the gradient unchanged needs no step for such a module.
/// Marks nest; each is removed by disposing it.
/// </summary>
internal static class IdentityModules
{
    private static readonly ConditionalWeakTable<nn.Module, StrongBox<int>> Marks = new();

    /// <summary>Whether the module currently computes the identity.</summary>
    public static bool Contains(nn.Module module)
    {
        lock (Marks)
        {
            return Marks.TryGetValue(module, out StrongBox<int>? count) && count.Value > 0;
        }
    }

    /// <summary>Marks the module as computing the identity until the result is disposed.</summary>
    public static IDisposable Mark(nn.Module module)
    {
        lock (Marks)
        {
            Marks.GetValue(module, _ => new StrongBox<int>(0)).Value++;
        }
        return new Unmark(module);
    }

    private sealed class Unmark(nn.Module module) : IDisposable
    {
        private nn.Module? target = module;

        public void Dispose()
        {
            if (target is null)
            {
                return;
            }
            lock (Marks)
            {
                if (Marks.TryGetValue(target, out StrongBox<int>? count) && --count.Value <= 0)
                {
                    Marks.Remove(target);
                }
            }
            target = null;
        }
    }
}
