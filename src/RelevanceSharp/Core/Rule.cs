using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// An attribution rule for one kind of layer: given the gradient arriving at a module's output, it decides what
/// flows on to the module's input. Rules are immutable and stateless; everything that belongs to one call of a
/// module lives in its <see cref="RuleCall"/>, so one rule instance can serve many modules and a module may be
/// called several times in one forward pass.
/// </summary>
public abstract class Rule
{
    /// <summary>A short display name, e.g. <c>Epsilon(epsilon=1E-06)</c>.</summary>
    public abstract override string ToString();

    /// <summary>
    /// Computes what flows to the module's input from what arrives at its output. The default computes the module's
    /// ordinary input gradient (<see cref="RuleCall.NaturalGradient"/>) and hands it to the three-argument overload;
    /// rules that do not need it override this overload and save that work.
    /// </summary>
    /// <param name="call">The recorded call: module, input and output.</param>
    /// <param name="gradOutput">The (possibly modified) gradient arriving at the module's output.</param>
    /// <returns>The relevance of the module's input; must have the input's shape.</returns>
    public virtual Tensor Backward(RuleCall call, Tensor gradOutput) => Backward(call, call.NaturalGradient(gradOutput), gradOutput);

    /// <summary>
    /// Computes what flows to the module's input, given also the module's ordinary input gradient.
    /// </summary>
    /// <param name="call">The recorded call: module, input and output.</param>
    /// <param name="gradInput">The ordinary gradient with respect to the module's input.</param>
    /// <param name="gradOutput">The (possibly modified) gradient arriving at the module's output.</param>
    /// <returns>The tensor that replaces <paramref name="gradInput"/>; must have its shape.</returns>
    public virtual Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput) =>
        throw new NotSupportedException($"Rule {this} overrides neither Backward overload.");

    /// <summary>
    /// Whether <see cref="Backward(RuleCall, Tensor)"/> reads the values of the call's output (its shape aside). The
    /// engine hands the model a copy of such a module's output, to keep the recorded values intact if the model goes
    /// on to change the result in place. Rules that only transform the incoming gradient (<c>Pass</c>,
    /// <c>ReLUDeconvNet</c>) or recompute every term from the input (<c>ZPlus</c>, <c>AlphaBeta</c>, <c>Flat</c>)
    /// return false and are spared the copy.
    /// </summary>
    public virtual bool ReadsOutput => true;

    /// <summary>
    /// Whether this rule would hand on exactly the module's ordinary gradient at any call of
    /// <paramref name="module"/> in its current state; the engine then attaches nothing to the call.
    /// </summary>
    internal virtual bool ChangesNothing(nn.Module module) => false;

    /// <summary>Attaches this rule to a module; disposing the result detaches it.</summary>
    public IDisposable Register(nn.Module<Tensor, Tensor> module, HookActivity? activity = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        var hook = new RuleHook(this, activity ?? new HookActivity());
        IDisposable interceptor = ModuleHooks.Add(module, HookStage.Rule, hook);
        return new RuleRegistration(hook, interceptor);
    }

    private sealed class RuleRegistration : IDisposable, IPendingCalls
    {
        private readonly RuleHook hook;
        private IDisposable? interceptor;

        public RuleRegistration(RuleHook hook, IDisposable interceptor)
        {
            this.hook = hook;
            this.interceptor = interceptor;
        }

        public void Dispose()
        {
            interceptor?.Dispose();
            interceptor = null;
            hook.ReleaseAll();
        }

        public void ReleasePending() => hook.ReleaseAll();
    }
}

/// <summary>Registrations that keep per-call state which can be dropped once no backward pass will need it.</summary>
internal interface IPendingCalls
{
    /// <summary>Releases the tensors of calls whose backward pass has not run (or may run again).</summary>
    void ReleasePending();
}

/// <summary>Sees each rule step of a backward pass: the module, the relevance reaching its output and what it passes on.</summary>
internal interface IBackwardObserver
{
    void Observe(nn.Module module, Tensor gradOutput, Tensor gradInput);
}

/// <summary>
/// A switch shared by the hooks of one registration. While inactive, hooks let the ordinary gradient through,
/// which is how the gradient of a modified gradient is taken.
/// </summary>
public sealed class HookActivity
{
    private int inactiveDepth;

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

/// <summary>One call of a module under a rule: what the module received and returned.</summary>
public sealed class RuleCall
{
    // The call keeps its own references (aliases) to the tensors it records: containers such as Sequential dispose
    // intermediate results as soon as the next module has consumed them.
    private Tensor? input;
    private Tensor? output;

    internal RuleCall(nn.Module<Tensor, Tensor> module, Rule rule, HookActivity activity)
    {
        Module = module;
        Rule = rule;
        Activity = activity;
    }

    /// <summary>The module that was called.</summary>
    public nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>The rule attached to the module.</summary>
    public Rule Rule { get; }

    internal HookActivity Activity { get; }

    /// <summary>The input the module was called with (attached to the autograd graph of the forward pass).</summary>
    public Tensor Input
    {
        get => input ?? throw new InvalidOperationException("This call's tensors have been released.");
        internal set => Replace(ref input, value);
    }

    /// <summary>
    /// What the module computed, with its autograd graph back to <see cref="Input"/> (the model itself continues
    /// with a copy, whose gradient the rule decides).
    /// </summary>
    public Tensor Output
    {
        get => output ?? throw new InvalidOperationException("This call's tensors have been released.");
        internal set => Replace(ref output, value);
    }

    internal bool Released { get; private set; }

    /// <summary>Whether the module is an in-place ReLU whose result the hook computes out of place.</summary>
    internal bool OutOfPlaceReLU { get; set; }

    /// <summary>
    /// The ordinary vector-Jacobian product of the module at this call: the gradient with respect to
    /// <see cref="Input"/> of <see cref="Output"/> weighted by <paramref name="gradOutput"/>. It reuses the graph of the
    /// forward pass, so it costs one backward step of the module and no recomputation.
    /// </summary>
    public Tensor NaturalGradient(Tensor gradOutput)
    {
        bool createGraph = is_grad_enabled();
        using var grad = enable_grad();
        IList<Tensor> gradients = autograd.grad(new[] { Output }, new[] { Input }, new[] { gradOutput },
            retain_graph: true, create_graph: createGraph, allow_unused: true);
        Tensor? result = gradients.Count > 0 ? gradients[0] : null;
        if (result is null || result.IsInvalid)
        {
            return zeros_like(Input);
        }
        return createGraph ? result : result.detach();
    }

    internal void Release()
    {
        Released = true;
        Replace(ref input, null);
        Replace(ref output, null);
    }

    private static void Replace(ref Tensor? slot, Tensor? value)
    {
        slot?.Dispose();
        slot = value?.alias().DetachFromDisposeScope();
    }
}

/// <summary>
/// The interceptor that attaches a rule to every call of a module. The module computes on the tensor it was called
/// with (on a copy when it may work in place); the model continues with a copy of the result, produced by an
/// autograd function whose backward asks the rule what flows to the module's input. The module's own backward step
/// runs only if the rule asks for it.
/// </summary>
internal sealed class RuleHook : IForwardInterceptor
{
    private readonly Rule rule;
    private readonly HookActivity activity;
    private readonly Stack<RuleCall?> open = new();
    private readonly HashSet<RuleCall> pending = new();
    private readonly object sync = new();

    public RuleHook(Rule rule, HookActivity activity)
    {
        this.rule = rule;
        this.activity = activity;
    }

    public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input)
    {
        if (!is_grad_enabled() || !input.requires_grad || RuleSuppression.IsSuppressed(module) || rule.ChangesNothing(module))
        {
            open.Push(null);
            return input;
        }
        var call = new RuleCall(module, rule, activity) { Input = input };
        lock (sync)
        {
            pending.Add(call);
        }
        open.Push(call);
        bool mayModify = InPlace.MayModifyInput(module);
        if (mayModify && module.GetType() == typeof(TorchSharp.Modules.ReLU) && InPlace.EmptyBatch(input) is { } empty)
        {
            // An in-place ReLU would need a copy to destroy: it runs on an empty slice instead, and its result is
            // computed out of place from the recorded input below (one pass instead of a copy and a pass).
            call.OutOfPlaceReLU = true;
            return empty;
        }
        // A module that may overwrite its input works on a copy, so the recorded input stays intact.
        // (Also for rules that read nothing: working in place on the input itself would hang the module's own
        // backward step onto the input's history, under the rule's.)
        return mayModify ? input.clone() : input;
    }

    public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
    {
        RuleCall? call = open.Count > 0 ? open.Pop() : null;
        if (call is null)
        {
            return output;
        }
        if (call.OutOfPlaceReLU)
        {
            output = call.Input.relu();
        }
        if (!output.requires_grad)
        {
            Complete(call);
            return output;
        }
        call.Output = output;
        return RuleGate.apply(call.Input, call, this);
    }

    internal void Complete(RuleCall call)
    {
        lock (sync)
        {
            pending.Remove(call);
        }
        call.Release();
    }

    internal void ReleaseAll()
    {
        lock (sync)
        {
            foreach (RuleCall call in pending)
            {
                call.Release();
            }
            pending.Clear();
        }
        open.Clear();
    }
}

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

/// <summary>
/// The autograd function behind a rule: in the forward pass it hands on a copy of the module's output; in the
/// backward pass it asks the rule what flows to the module's input (the ordinary gradient while hooks are inactive).
/// </summary>
internal sealed class RuleGate : autograd.SingleTensorFunction<RuleGate>
{
    public override string Name => "RelevanceSharpRule";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var call = (RuleCall)vars[1];
        ctx.save_data("call", call);
        ctx.save_data("hook", vars[2]);
        // A copy, not a view, for rules that read the output: the model may change the result in place (a ReLU
        // working in place on a convolution's output).
        return call.Rule.ReadsOutput ? call.Output.detach().clone() : call.Output.detach();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var call = (RuleCall)ctx.get_data("call");
        var hook = (RuleHook)ctx.get_data("hook");
        // The handle handed back on this thread's previous call has been copied by libtorch by now.
        HandedBack.Release();
        if (call.Released)
        {
            gradOutput.Dispose();
            return new List<Tensor> { null!, null!, null! };
        }
        bool recordsGraph = is_grad_enabled();
        Tensor result;
        // Everything the rule makes lives in this scope, and TorchSharp's handle of the incoming gradient is dropped
        // here: left to the caller's scope, every layer's gradient and relevance would stay in memory until the
        // attribution ends.
        using (var scope = NewDisposeScope())
        {
            try
            {
                Tensor relevance = call.Activity.IsActive ? call.Rule.Backward(call, gradOutput) : call.NaturalGradient(gradOutput);
                if (!relevance.shape.SequenceEqual(call.Input.shape))
                {
                    throw new InvalidOperationException(
                        $"Rule {call.Rule} returned relevance of shape [{string.Join(", ", relevance.shape)}] for a " +
                        $"{call.Module.Describe()} input of shape [{string.Join(", ", call.Input.shape)}].");
                }
                call.Activity.Observer?.Observe(call.Module, gradOutput, relevance);
                // A fresh handle: the rule may return one of the call's own tensors, which are released below.
                result = relevance.alias();
            }
            catch (Exception ex)
            {
                // An exception must not cross the native autograd engine; it is reported after the backward pass.
                BackwardFailures.Record(ex);
                result = zeros_like(call.Input);
            }
            finally
            {
                // A backward pass that records a graph (create_graph) may be differentiated again, which runs this
                // function once more: keep the call until its registration ends. Otherwise it is done.
                if (!recordsGraph)
                {
                    hook.Complete(call);
                }
            }
            result.DetachFromDisposeScope();
        }
        gradOutput.Dispose();
        HandedBack.Hold(result);
        return new List<Tensor> { result, null!, null! };
    }
}

/// <summary>
/// The tensor a rule's backward step hands to libtorch. TorchSharp's custom functions give libtorch a copy of the
/// returned handle once the backward function has returned, and leave the handle itself to its owner: it is kept
/// here and released when the next backward step starts on the same thread (the copy has been made by then) or when
/// the attribution ends.
/// </summary>
internal static class HandedBack
{
    [ThreadStatic]
    private static Tensor? held;

    public static void Hold(Tensor tensor)
    {
        Release();
        held = tensor;
    }

    /// <summary>Drops the handle held on this thread, if any.</summary>
    public static void Release()
    {
        held?.Dispose();
        held = null;
    }
}
