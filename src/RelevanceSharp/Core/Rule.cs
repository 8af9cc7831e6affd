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
