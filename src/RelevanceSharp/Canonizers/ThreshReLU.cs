using RelevanceSharp.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// Turns the call of a ReLU module that reads a given (merged) batch norm's output into a ThreshReLU:
/// <c>t = x</c> where <c>scale * x + shift &gt; 0</c>, <c>t = -shift / scale</c> elsewhere, and <c>t = 0</c> in
/// channels with <c>scale = 0</c>. Other calls of the same ReLU module are left alone. The rewrite sits inside any
/// rule attached to the ReLU, so rules see the ThreshReLU as the module's computation.
/// </summary>
public static class ThreshReLU
{
    /// <summary>The ThreshReLU function itself.</summary>
    public static Tensor Compute(Tensor input, Tensor scale, Tensor shift)
    {
        long[] view = Enumerable.Repeat(1L, (int)input.dim()).ToArray();
        view[input.dim() > 1 ? 1 : 0] = scale.shape[0];
        Tensor s = scale.to(input.dtype, input.device).view(view);
        Tensor b = shift.to(input.dtype, input.device).view(view);
        Tensor alive = s.ne(0.0);
        Tensor threshold = where(alive, -b / where(alive, s, ones_like(s)), zeros_like(s));
        Tensor keep = (input * s + b).gt(0.0).logical_and(alive);
        return where(keep, input, threshold);
    }

    /// <summary>Attaches the rewrite; disposing the result detaches it.</summary>
    public static IDisposable Attach(BatchNorm batchNorm, ReLU relu, Tensor scale, Tensor shift)
    {
        var link = new Link(scale.detach().clone().DetachFromDisposeScope(), shift.detach().clone().DetachFromDisposeScope());
        var undo = new UndoStack();
        undo.Push(() =>
        {
            link.Scale.Dispose();
            link.Shift.Dispose();
        });
        undo.Push(ModuleHooks.Add(batchNorm, HookStage.Outer, new Tagger(link)));
        undo.Push(ModuleHooks.Add(relu, HookStage.Outer, new Matcher(link)));
        undo.Push(ModuleHooks.Add(relu, HookStage.Inner, new Rewriter(link)));
        return undo;
    }

    /// <summary>State shared by the interceptors of one merge.</summary>
    private sealed class Link
    {
        public Link(Tensor scale, Tensor shift)
        {
            Scale = scale;
            Shift = shift;
        }

        public Tensor Scale { get; }

        public Tensor Shift { get; }

        /// <summary>What the batch norm last handed to the model (its identity), to recognize the ReLU call reading it.</summary>
        public WeakReference<Tensor>? LastOutput { get; set; }

        public DataflowTrace.TensorKey LastKey { get; set; }

        /// <summary>One entry per open call of the ReLU: whether that call reads the batch norm.</summary>
        public Stack<bool> Matches { get; } = new();

        public Stack<Tensor?> Inputs { get; } = new();
    }

    private sealed class Tagger : IForwardInterceptor
    {
        private readonly Link link;

        public Tagger(Link link) => this.link = link;

        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input) => input;

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            link.LastOutput = new WeakReference<Tensor>(output);
            link.LastKey = DataflowTrace.KeyOf(output);
            return output;
        }
    }

    private sealed class Matcher : IForwardInterceptor
    {
        private readonly Link link;

        public Matcher(Link link) => this.link = link;

        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input)
        {
            bool match = false;
            if (link.LastOutput is not null)
            {
                match = (link.LastOutput.TryGetTarget(out Tensor? last) && ReferenceEquals(last, input))
                    || link.LastKey.SameData(DataflowTrace.KeyOf(input));
            }
            if (match)
            {
                link.LastOutput = null;
            }
            link.Matches.Push(match);
            return input;
        }

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            if (link.Matches.Count > 0)
            {
                link.Matches.Pop();
            }
            return output;
        }
    }

    private sealed class Rewriter : IForwardInterceptor
    {
        private readonly Link link;

        public Rewriter(Link link) => this.link = link;

        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input)
        {
            bool active = link.Matches.Count > 0 && link.Matches.Peek();
            link.Inputs.Push(active ? input : null);
            // The ReLU module may work in place; it gets a copy, and its own result is replaced below.
            return active ? input.clone() : input;
        }

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            Tensor? original = link.Inputs.Count > 0 ? link.Inputs.Pop() : null;
            return original is null ? output : Compute(original, link.Scale, link.Shift);
        }
    }
}
