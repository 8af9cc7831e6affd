using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// Where an interceptor sits around a module call. Pre-forward work runs from <see cref="Outer"/> to
/// <see cref="Inner"/>, post-forward work in the opposite order, so the stages nest like an onion:
/// a canonizer's <see cref="Outer"/> interceptor sees what the surrounding model sees, a rule's gates
/// sit in <see cref="Rule"/>, and a canonizer's <see cref="Inner"/> interceptor rewrites what the
/// module itself computes, inside the rule's gates.
/// </summary>
public enum HookStage
{
    /// <summary>
    /// Outside every other stage: sees exactly what the surrounding model hands to and receives from the module. For
    /// observers that change nothing (<see cref="LayerTap"/>).
    /// </summary>
    Tap = -1,

    /// <summary>Closest to the surrounding model, inside <see cref="Tap"/>.</summary>
    Outer = 0,

    /// <summary>The stage of attribution rules.</summary>
    Rule = 1,

    /// <summary>Closest to the module's own computation.</summary>
    Inner = 2,
}

/// <summary>Work done around one call of a module.</summary>
public interface IForwardInterceptor
{
    /// <summary>Called before the module runs; returns the input to hand on (the same tensor, or a replacement).</summary>
    Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input);

    /// <summary>
    /// Called after the module ran, with the input this interceptor handed on and the output produced inside it;
    /// returns the output to hand back (the same tensor, or a replacement).
    /// </summary>
    Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output);
}

/// <summary>
/// The single TorchSharp pre-hook and post-hook pair that RelevanceSharp installs on a module, dispatching to
/// ordered interceptors. TorchSharp keeps its hooks in a dictionary whose order is not guaranteed once hooks are
/// removed; dispatching from one place keeps canonizers and rules in a fixed order. The pair is removed from the
/// module when its last interceptor is removed.
/// </summary>
internal sealed class ModuleHooks
{
    private static readonly ConditionalWeakTable<nn.Module, ModuleHooks> Table = new();
    private static readonly object Gate = new();

    private readonly nn.Module<Tensor, Tensor> module;
    private readonly List<Entry> entries = new();
    private readonly Stack<Tensor[]> frames = new();
    private nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover? preRemover;
    private nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover? postRemover;
    private long nextId;

    private ModuleHooks(nn.Module<Tensor, Tensor> module)
    {
        this.module = module;
    }

    private sealed record Entry(long Id, HookStage Stage, IForwardInterceptor Interceptor);

    /// <summary>Adds an interceptor to a module; disposing the result removes it again.</summary>
    public static IDisposable Add(nn.Module<Tensor, Tensor> module, HookStage stage, IForwardInterceptor interceptor)
    {
        lock (Gate)
        {
            ModuleHooks hooks = Table.GetValue(module, m => new ModuleHooks((nn.Module<Tensor, Tensor>)m));
            return hooks.AddEntry(stage, interceptor);
        }
    }

    /// <summary>Number of interceptors currently attached to a module (for tests and diagnostics).</summary>
    public static int Count(nn.Module module)
    {
        lock (Gate)
        {
            return Table.TryGetValue(module, out ModuleHooks? hooks) ? hooks.entries.Count : 0;
        }
    }

    private IDisposable AddEntry(HookStage stage, IForwardInterceptor interceptor)
    {
        var entry = new Entry(nextId++, stage, interceptor);
        entries.Add(entry);
        // Stable order: by stage, then by the order of registration.
        entries.Sort((a, b) => a.Stage != b.Stage ? a.Stage.CompareTo(b.Stage) : a.Id.CompareTo(b.Id));
        if (preRemover is null)
        {
            preRemover = module.register_forward_pre_hook(OnPreForward);
            postRemover = module.register_forward_hook(OnPostForward);
        }
        return new Removal(this, entry);
    }

    private void RemoveEntry(Entry entry)
    {
        lock (Gate)
        {
            if (!entries.Remove(entry))
            {
                return;
            }
            if (entries.Count == 0)
            {
                preRemover?.remove();
                postRemover?.remove();
                preRemover = null;
                postRemover = null;
                frames.Clear();
                Table.Remove(module);
            }
        }
    }

    private Tensor OnPreForward(nn.Module<Tensor, Tensor> m, Tensor input)
    {
        Entry[] snapshot = entries.ToArray();
        var handedOn = new Tensor[snapshot.Length];
        Tensor current = input;
        for (int i = 0; i < snapshot.Length; i++)
        {
            current = snapshot[i].Interceptor.PreForward(m, current);
            handedOn[i] = current;
        }
        frames.Push(handedOn);
        return current;
    }

    private Tensor OnPostForward(nn.Module<Tensor, Tensor> m, Tensor input, Tensor output)
    {
        Entry[] snapshot = entries.ToArray();
        Tensor[] handedOn = frames.Count > 0 ? frames.Pop() : Array.Empty<Tensor>();
        Tensor current = output;
        for (int i = snapshot.Length - 1; i >= 0; i--)
        {
            // An interceptor added during this very call has no recorded input; give it the module's input.
            Tensor seen = i < handedOn.Length ? handedOn[i] : input;
            current = snapshot[i].Interceptor.PostForward(m, seen, current);
        }
        return current;
    }

    private sealed class Removal : IDisposable
    {
        private ModuleHooks? owner;
        private readonly Entry entry;

        public Removal(ModuleHooks owner, Entry entry)
        {
            this.owner = owner;
            this.entry = entry;
        }

        public void Dispose()
        {
            owner?.RemoveEntry(entry);
            owner = null;
        }
    }
}
