using RelevanceSharp.Core;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// Turns the call of a ReLU module that reads a given (merged) batch norm's output into a ThreshReLU:
/// <c>t = x</c> where <c>scale * x + shift &gt; 0</c>, <c>t = -shift / scale</c> elsewhere, and <c>t = 0</c> in
/// channels with <c>scale = 0</c>. Other calls of the same ReLU module are left alone, and the module keeps its
/// type, so composites still treat it as an activation.
/// <para>
/// How rules see the ThreshReLU call follows the reference implementation, whose results differ by the ReLU's
/// <c>inplace</c> flag. For a ReLU that is not in place, the ThreshReLU is the module's computation inside any rule
/// attached to it: a composite's activation rule (<c>Pass</c>) passes relevance through unchanged, also where the
/// threshold was output. An in-place ReLU destroys its input, so the ThreshReLU is computed from the tensor the model
/// hands to the ReLU, outside the rule: relevance then flows by the ThreshReLU's own gradient, unchanged where it
/// passes its input and zero where it outputs the threshold (there the original ReLU was inactive). Rules on the
/// ReLU module still apply to its other calls.
/// </para>
/// </summary>
public static class ThreshReLU
{
    /// <summary>The ThreshReLU function itself.</summary>
    public static Tensor Compute(Tensor input, Tensor scale, Tensor shift)
    {
        using var form = new ChannelForm(input, scale, shift);
        return form.Apply(input);
    }

    /// <summary>
    /// A merge's scale and shift laid out along the channel dimension of inputs of one rank, type and device, with
    /// everything else the function needs that does not depend on the input, worked out once instead of per call: the
    /// value where the input is cut (<c>-shift / scale</c>, 0 in channels with scale 0), the shift the test adds
    /// (-1 in channels with scale 0, so that their test always fails) and, unless every scale is positive, the sign
    /// of each scale and the cut values times it.
    /// </summary>
    private sealed class ChannelForm : IDisposable
    {
        private readonly Tensor s;
        private readonly Tensor tested;
        private readonly Tensor cut;
        private readonly Tensor? sign;
        private readonly Tensor? signedCut;

        public ChannelForm(Tensor like, Tensor scale, Tensor shift)
        {
            Rank = like.dim();
            Type = like.dtype;
            Device = like.device;
            long[] view = Enumerable.Repeat(1L, (int)Rank).ToArray();
            view[Rank > 1 ? 1 : 0] = scale.shape[0];
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            s = scale.detach().to(Type, Device).reshape(view).DetachFromDisposeScope();
            Tensor b = shift.detach().to(Type, Device).reshape(view);
            Tensor alive = s.ne(Scalars.Of(0.0));
            cut = where(alive, -b / where(alive, s, ones_like(s)), zeros_like(s)).DetachFromDisposeScope();
            tested = where(alive, b, full_like(b, Scalars.Of(-1.0))).DetachFromDisposeScope();
            if (!s.gt(Scalars.Of(0.0)).all().item<bool>())
            {
                sign = s.sign().DetachFromDisposeScope();
                signedCut = (sign * cut).DetachFromDisposeScope();
            }
        }

        public long Rank { get; }

        public ScalarType Type { get; }

        public Device Device { get; }

        /// <summary>Whether this form serves an input of the given rank, type and device.</summary>
        public bool Fits(Tensor input) => input.dim() == Rank && input.dtype == Type && input.device.Equals(Device);

        public Tensor Apply(Tensor input) => Threshold.apply(input, s, tested, sign is null ? cut : signedCut!, sign!);

        public void Dispose()
        {
            s.Dispose();
            tested.Dispose();
            cut.Dispose();
            sign?.Dispose();
            signedCut?.Dispose();
        }
    }

    /// <summary>
    /// The ThreshReLU in float arithmetic, without a boolean mask or a selection (each several times a plain pass):
    /// with every scale positive, keeping <c>x</c> where <c>s x + b &gt; 0</c> and <c>c = -b / s</c> elsewhere is
    /// <c>max(x, c)</c> (the two agree where they meet); in general, with <c>o</c> the sign of each channel's scale,
    /// it is <c>o max(o x, o c)</c>: <c>max(x, c)</c> for positive scales, <c>min(x, c)</c> for negative ones and 0
    /// for scale 0 (multiplying by the sign is exact). The backward step keeps the mask's gradient exactly: the
    /// gradient where <c>s x + b &gt; 0</c> and zero elsewhere, also where <c>x</c> equals the threshold, which
    /// <c>max</c> itself would split.
    /// </summary>
    private sealed class Threshold : autograd.SingleTensorFunction<Threshold>
    {
        public override string Name => "RelevanceSharpThreshReLU";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (input, s, b, threshold) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            ctx.save_for_backward(new List<Tensor> { input, s, b });
            Tensor x = input.detach();
            return vars[4] is Tensor sign ? x.mul(sign).maximum(threshold).mul_(sign) : x.maximum(threshold);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            // The rule gates' frame: a dispose scope of its own, an exception recorded instead of thrown into the
            // native engine, the incoming handle dropped and the gradient held until libtorch has copied it.
            Tensor?[] results = GateStep.Run(gradOutput,
                () =>
                {
                    List<Tensor> saved = ctx.get_saved_variables();
                    // The mask as 0/1 in the input's type (a float comparison in place, no boolean tensor).
                    Tensor keep = saved[0].detach().mul(saved[1]).add_(saved[2], Scalars.One).gt_(Scalars.Of(0.0));
                    return [keep.mul_(gradOutput)];
                },
                () => [zeros_like(gradOutput)],
                () => { });
            return new List<Tensor> { results[0]!, null!, null!, null!, null! };
        }
    }

    /// <summary>Attaches the rewrite; disposing the result detaches it.</summary>
    public static IDisposable Attach(BatchNorm batchNorm, ReLU relu, Tensor scale, Tensor shift)
    {
        var link = new Link(scale.detach().clone().DetachFromDisposeScope(), shift.detach().clone().DetachFromDisposeScope(), relu.inplace);
        var undo = new UndoStack();
        undo.Push(link.Dispose);
        undo.Push(ModuleHooks.Add(batchNorm, HookStage.Outer, new Tagger(link)));
        undo.Push(ModuleHooks.Add(relu, HookStage.Outer, new Matcher(link)));
        if (!link.OutsideRules)
        {
            undo.Push(ModuleHooks.Add(relu, HookStage.Inner, new InnerRewriter(link)));
        }
        return undo;
    }

    /// <summary>State shared by the interceptors of one merge.</summary>
    private sealed class Link : IDisposable
    {
        private ChannelForm? form;

        public Link(Tensor scale, Tensor shift, bool outsideRules)
        {
            Scale = scale;
            Shift = shift;
            OutsideRules = outsideRules;
        }

        /// <summary>Whether the ThreshReLU is computed outside the ReLU's rule (for an in-place ReLU).</summary>
        public bool OutsideRules { get; }

        public Tensor Scale { get; }

        public Tensor Shift { get; }

        /// <summary>The ThreshReLU of this merge's scale and shift (laid out once per kind of input).</summary>
        public Tensor Compute(Tensor input)
        {
            if (form is null || !form.Fits(input))
            {
                form?.Dispose();
                form = new ChannelForm(input, Scale, Shift);
            }
            return form.Apply(input);
        }

        public void Dispose()
        {
            form?.Dispose();
            form = null;
            Scale.Dispose();
            Shift.Dispose();
        }

        /// <summary>What the batch norm last handed to the model, to recognize the ReLU call reading it.</summary>
        public WeakReference<Tensor>? LastOutput { get; set; }

        public DataflowTrace.TensorKey LastKey { get; set; }

        /// <summary>One entry per open call of the ReLU: whether it reads the batch norm, and the input it got.</summary>
        public Stack<(bool Match, Tensor? Input)> Open { get; } = new();

        /// <summary>One entry per open call, for the inner rewriter: the input inside the rule, or null.</summary>
        public Stack<Tensor?> Inner { get; } = new();
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

    /// <summary>Recognizes the ReLU call that reads the batch norm; for an in-place ReLU also computes it.</summary>
    private sealed class Matcher : IForwardInterceptor
    {
        private readonly Link link;

        public Matcher(Link link) => this.link = link;

        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input)
        {
            bool match = link.LastOutput is not null
                && ((link.LastOutput.TryGetTarget(out Tensor? last) && ReferenceEquals(last, input))
                    || link.LastKey.SameData(DataflowTrace.KeyOf(input)));
            if (!match)
            {
                link.Open.Push((false, null));
                return input;
            }
            link.LastOutput = null;
            if (!link.OutsideRules)
            {
                link.Open.Push((true, null));
                return input;
            }
            link.Open.Push((true, input));
            RuleSuppression.Enter(module);
            // The in-place ReLU must not destroy the input, and its result is replaced below: it runs on an empty
            // slice outside the graph (a copy of the whole input would cost a pass over it for nothing).
            return InPlace.EmptyBatch(input) ?? input.clone();
        }

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            var (match, original) = link.Open.Count > 0 ? link.Open.Pop() : (false, null);
            if (!match || original is null)
            {
                return output;
            }
            RuleSuppression.Exit(module);
            return link.Compute(original);
        }
    }

    /// <summary>Computes the ThreshReLU of a ReLU that is not in place, inside any rule attached to it.</summary>
    private sealed class InnerRewriter : IForwardInterceptor
    {
        private readonly Link link;

        public InnerRewriter(Link link) => this.link = link;

        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input)
        {
            bool match = link.Open.Count > 0 && link.Open.Peek().Match;
            link.Inner.Push(match ? input : null);
            return input;
        }

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            Tensor? original = link.Inner.Count > 0 ? link.Inner.Pop() : null;
            return original is null ? output : link.Compute(original);
        }
    }
}
