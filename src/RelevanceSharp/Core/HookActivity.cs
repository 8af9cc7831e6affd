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
