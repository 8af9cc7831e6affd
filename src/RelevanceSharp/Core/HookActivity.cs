using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// A switch shared by the hooks of one registration. While inactive, hooks let the ordinary gradient through,
/// which is how the gradient of a modified gradient is taken.
/// </summary>
public sealed class HookActivity
{
    private int inactiveDepth;

    /// <summary>Where the engine counts its work for this registration, or <c>null</c> for no counting (the default).</summary>
    public EngineCounters? Counters { get; set; }

    /// <summary>The names of the modules the registration attached rules to, for <see cref="EngineCounters.RuleMilliseconds"/>.</summary>
    internal Dictionary<nn.Module, string> Names { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>The name a module was registered under, or its description.</summary>
    internal string NameOf(nn.Module module)
    {
        lock (Names)
        {
            return Names.TryGetValue(module, out string? name) ? name : module.Describe();
        }
    }

    /// <summary>Runs a rule step, timing it into <see cref="Counters"/> when there are counters.</summary>
    internal T Timed<T>(nn.Module module, Func<T> step)
    {
        if (Counters is not { } counters)
        {
            return step();
        }
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        T result = step();
        counters.AddRuleTime(NameOf(module), System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        return result;
    }

    /// <summary>Whether hooks currently modify the gradient.</summary>
    public bool IsActive => Volatile.Read(ref inactiveDepth) == 0;

    /// <summary>
    /// While set, every rule step of the registration reports its incoming and outgoing relevance to it: how a
    /// failed attribution finds the layer where values stopped being finite. <c>null</c> in ordinary runs.
    /// </summary>
    internal IBackwardObserver? Observer { get; set; }

    /// <summary>Makes the hooks inactive until the result is disposed (nestable).</summary>
    public IDisposable Suspend()
    {
        Interlocked.Increment(ref inactiveDepth);
        return new Resumption(this);
    }

    private sealed class Resumption : IDisposable
    {
        private HookActivity? owner;

        public Resumption(HookActivity owner) => this.owner = owner;

        public void Dispose()
        {
            if (owner is not null)
            {
                Interlocked.Decrement(ref owner.inactiveDepth);
                owner = null;
            }
        }
    }
}
