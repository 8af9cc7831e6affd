using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

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
