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
    /// Computes what flows to the module's input.
    /// </summary>
    /// <param name="call">The recorded call: module, input and output.</param>
    /// <param name="gradInput">The ordinary gradient with respect to the module's input.</param>
    /// <param name="gradOutput">The (possibly modified) gradient arriving at the module's output.</param>
    /// <returns>The tensor that replaces <paramref name="gradInput"/>; must have its shape.</returns>
    public abstract Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput);

    /// <summary>Attaches this rule to a module; disposing the result detaches it.</summary>
    public IDisposable Register(nn.Module<Tensor, Tensor> module, HookActivity? activity = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        var hook = new RuleHook(this, activity ?? new HookActivity());
        IDisposable interceptor = ModuleHooks.Add(module, HookStage.Rule, hook);
        return new RuleRegistration(hook, interceptor);
    }

    private sealed class RuleRegistration : IDisposable
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
    }
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

    // The call keeps its own references (aliases) to the tensors it records: containers such as Sequential dispose
    // intermediate results as soon as the next module has consumed them, and autograd releases gradients after use.
    private Tensor? input;
    private Tensor? output;
    private Tensor? gradOutput;

    /// <summary>The input the module was called with (still attached to the autograd graph).</summary>
    public Tensor Input
    {
        get => input ?? throw new InvalidOperationException("This call's tensors have been released.");
        internal set => Replace(ref input, value);
    }

    /// <summary>The output the module returned (still attached to the autograd graph).</summary>
    public Tensor Output
    {
        get => output ?? throw new InvalidOperationException("This call's tensors have been released.");
        internal set => Replace(ref output, value);
    }

    internal Tensor? GradOutput
    {
        get => gradOutput;
        set => Replace(ref gradOutput, value);
    }

    internal bool Released { get; private set; }

    internal void Release()
    {
        Released = true;
        Replace(ref input, null);
        Replace(ref output, null);
        Replace(ref gradOutput, null);
    }

    private static void Replace(ref Tensor? slot, Tensor? value)
    {
        slot?.Dispose();
        slot = value?.alias().DetachFromDisposeScope();
    }
}

/// <summary>The interceptor that puts a rule's gates around every call of a module.</summary>
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
        if (!is_grad_enabled() || !input.requires_grad || RuleSuppression.IsSuppressed(module))
        {
            open.Push(null);
            return input;
        }
        // The rule sees the tensor the module was called with; the module itself gets the gate's copy, which it
        // may overwrite (an in-place ReLU does).
        var call = new RuleCall(module, rule, activity) { Input = input };
        Tensor gated = InputGate.apply(input, call, this);
        lock (sync)
        {
            pending.Add(call);
        }
        open.Push(call);
        return gated;
    }

    public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
    {
        RuleCall? call = open.Count > 0 ? open.Pop() : null;
        if (call is null || !output.requires_grad)
        {
            return output;
        }
        call.Output = output;
        return OutputGate.apply(output, call);
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

/// <summary>Identity in the forward pass; in the backward pass hands the module's input gradient to the rule.</summary>
internal sealed class InputGate : autograd.SingleTensorFunction<InputGate>
{
    public override string Name => "RelevanceSharpInputGate";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data("call", vars[1]);
        ctx.save_data("hook", vars[2]);
        // A copy, not a view: the module may work in place on its input.
        return ((Tensor)vars[0]).clone();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var call = (RuleCall)ctx.get_data("call");
        var hook = (RuleHook)ctx.get_data("hook");
        if (call.Released || call.GradOutput is null || !call.Activity.IsActive)
        {
            return new List<Tensor> { gradOutput, null!, null! };
        }
        try
        {
            Tensor relevance = call.Rule.Backward(call, gradOutput, call.GradOutput);
            if (!relevance.shape.SequenceEqual(gradOutput.shape))
            {
                throw new InvalidOperationException(
                    $"Rule {call.Rule} returned relevance of shape [{string.Join(", ", relevance.shape)}] for a " +
                    $"{call.Module.Describe()} input of shape [{string.Join(", ", gradOutput.shape)}].");
            }
            // A fresh handle: the rule may return one of the call's own tensors, which are released below.
            return new List<Tensor> { relevance.alias(), null!, null! };
        }
        catch (Exception ex)
        {
            // An exception must not cross the native autograd engine; it is reported after the backward pass.
            BackwardFailures.Record(ex);
            return new List<Tensor> { gradOutput.alias(), null!, null! };
        }
        finally
        {
            hook.Complete(call);
        }
    }
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

    internal static void Record(Exception ex) => (failures ??= new List<Exception>()).Add(ex);

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

/// <summary>Identity in the forward pass; in the backward pass records the gradient arriving at the module's output.</summary>
internal sealed class OutputGate : autograd.SingleTensorFunction<OutputGate>
{
    public override string Name => "RelevanceSharpOutputGate";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data("call", vars[1]);
        return ((Tensor)vars[0]).clone();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var call = (RuleCall)ctx.get_data("call");
        if (!call.Released)
        {
            call.GradOutput = gradOutput;
        }
        return new List<Tensor> { gradOutput, null! };
    }
}
