using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// Exceptions raised by rules inside a backward pass. They cannot propagate through the native autograd engine, so
/// they are collected here and rethrown by <see cref="ThrowIfAny"/> once the backward pass has returned (the
/// attributors do this after every gradient). The autograd engine runs a CPU backward pass on the thread that
/// started it, so failures are kept per thread and concurrent attributions on other threads never see them.
/// </summary>
public static class BackwardFailures
{
    [ThreadStatic]
    private static List<Exception>? failures;

    // Every exception recorded here, so that callers can tell a rule's failure from other errors once it is rethrown.
    private static readonly ConditionalWeakTable<Exception, object> Recorded = new();
    private static readonly object Mark = new();

    internal static void Record(Exception ex)
    {
        (failures ??= new List<Exception>()).Add(ex);
        Recorded.AddOrUpdate(ex, Mark);
    }

    /// <summary>Whether <paramref name="ex"/> was raised by a rule in a backward pass (and rethrown from here).</summary>
    public static bool CameFromRule(Exception ex) => Recorded.TryGetValue(ex, out _);

    /// <summary>Throws the first failure recorded on this thread (and forgets all), if there was one.</summary>
    public static void ThrowIfAny()
    {
        if (failures is not { Count: > 0 })
        {
            return;
        }
        Exception first = failures[0];
        failures.Clear();
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
    }
}
