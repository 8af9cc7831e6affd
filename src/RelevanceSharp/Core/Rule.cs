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

    /// <summary>
    /// Whether this rule can split relevance among the inputs of a module that takes several tensors
    /// (<see cref="Backward(MultiInputCall, Tensor)"/>). Rules built on <c>BasicRule</c> can; rules that only map one
    /// tensor to one tensor (Pass, the ReLU rules) cannot, and registering them on such a module is refused.
    /// </summary>
    public virtual bool SupportsMultipleInputs => false;

    /// <summary>
    /// The inputs of a module with several inputs to which this rule gives no relevance whatever arrives (a gate held
    /// constant), or <c>null</c> for none. While the hooks are active, the module receives them detached at the forward
    /// pass, as a stop-gradient would (LXT's CP-LRP): the backward pass then skips everything that only feeds them (the
    /// queries, keys and softmax of an attention, a gated MLP's gate) instead of carrying zeros through it. A gradient
    /// taken later through the same forward pass with the hooks inactive (a second-order derivative) sees them as
    /// constants too.
    /// </summary>
    /// <param name="module">The module the rule is attached to.</param>
    /// <param name="inputs">How many tensors it received.</param>
    public virtual IReadOnlyList<bool>? ConstantInputs(nn.Module module, int inputs) => null;

    /// <summary>
    /// Splits the relevance at the output of a module with several inputs among those inputs; one tensor per input,
    /// each of its input's shape. Override together with <see cref="SupportsMultipleInputs"/>.
    /// </summary>
    /// <param name="call">The recorded call: module, inputs and output.</param>
    /// <param name="gradOutput">The (possibly modified) gradient arriving at the module's output.</param>
    public virtual IReadOnlyList<Tensor> Backward(MultiInputCall call, Tensor gradOutput) =>
        throw new NotSupportedException($"Rule {this} does not split relevance among several inputs.");

    /// <summary>
    /// Attaches this rule to a module; disposing the result detaches it. The module maps one tensor to one tensor,
    /// or takes several tensors (as arguments, an array or list, or a tuple) and returns one; for the latter the rule
    /// must <see cref="SupportsMultipleInputs">support several inputs</see>.
    /// </summary>
    /// <exception cref="NotSupportedException">The module has another form, or this rule cannot handle its inputs.</exception>
    public IDisposable Register(nn.Module module, HookActivity? activity = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        activity ??= new HookActivity();
        if (module is TorchSharp.Modules.Embedding or TorchSharp.Modules.EmbeddingBag)
        {
            throw new NotSupportedException(
                $"Rule {this} cannot be attached to {module.Describe()}: an embedding's input is integer indices, to which no " +
                "relevance can flow; attach rules to the layers after it and read the relevance of its output instead.");
        }
        if (module is nn.Module<Tensor, Tensor> single)
        {
            var hook = new RuleHook(this, activity);
            IDisposable interceptor = ModuleHooks.Add(single, HookStage.Rule, hook);
            return new RuleRegistration(hook.ReleaseAll, interceptor);
        }
        if (!MultiInputModules.IsMultiInput(module))
        {
            throw new NotSupportedException(
                $"Rule {this} cannot be attached to {module.Describe()}: rules attach to modules of the forms " +
                $"{MultiInputModules.Accepted}.");
        }
        if (!SupportsMultipleInputs)
        {
            throw new NotSupportedException(
                $"Rule {this} cannot be attached to {module.Describe()}, which takes several inputs: it does not define how " +
                "relevance splits among them (rules built on BasicRule, such as Epsilon, ZPlus or Norm, do).");
        }
        var multi = new MultiInputHook(this, activity);
        return new RuleRegistration(multi.ReleasePending, MultiInputModules.Hook(module, inputs => multi.PreForward(module, inputs), multi.PostForward));
    }

    private sealed class RuleRegistration : IDisposable, IPendingCalls
    {
        private readonly Action releaseAll;
        private IDisposable? interceptor;

        public RuleRegistration(Action releaseAll, IDisposable interceptor)
        {
            this.releaseAll = releaseAll;
            this.interceptor = interceptor;
        }

        public void Dispose()
        {
            interceptor?.Dispose();
            interceptor = null;
            releaseAll();
        }

        public void ReleasePending() => releaseAll();
    }
}
