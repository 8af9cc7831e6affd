using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// One call, under a rule, of a module whose forward takes several tensors (a sum of branches, a bilinear layer):
/// what it received and returned. The counterpart of <see cref="RuleCall"/> for such modules.
/// </summary>
public sealed class MultiInputCall
{
    private Tensor[]? inputs;
    private Tensor? output;

    internal MultiInputCall(nn.Module module, Rule rule, HookActivity activity, IReadOnlyList<Tensor> inputs)
    {
        Module = module;
        Rule = rule;
        Activity = activity;
        // Own references: the model may dispose its intermediate results before the backward pass.
        this.inputs = inputs.Select(x => x.alias().DetachFromDisposeScope()).ToArray();
    }

    /// <summary>The module that was called.</summary>
    public nn.Module Module { get; }

    /// <summary>The rule attached to the module.</summary>
    public Rule Rule { get; }

    internal HookActivity Activity { get; }

    /// <summary>The inputs, in the order of the module's forward arguments (or of its list or tuple).</summary>
    public IReadOnlyList<Tensor> Inputs => inputs ?? throw new InvalidOperationException("This call's tensors have been released.");

    /// <summary>What the module computed, with its autograd graph back to <see cref="Inputs"/>.</summary>
    public Tensor Output
    {
        get => output ?? throw new InvalidOperationException("This call's tensors have been released.");
        internal set
        {
            output?.Dispose();
            output = value.alias().DetachFromDisposeScope();
        }
    }

    internal bool Released => inputs is null;

    /// <summary>
    /// The ordinary vector-Jacobian products of the module at this call, one per input (zeros for an input the
    /// output does not depend on), from the graph of the forward pass.
    /// </summary>
    public IReadOnlyList<Tensor> NaturalGradients(Tensor gradOutput)
    {
        bool createGraph = is_grad_enabled();
        using var grad = enable_grad();
        IReadOnlyList<Tensor> xs = Inputs;
        var differentiable = Enumerable.Range(0, xs.Count).Where(i => xs[i].requires_grad).ToArray();
        var result = xs.Select(x => (Tensor?)null).ToArray();
        if (differentiable.Length > 0 && Output.requires_grad)
        {
            IList<Tensor> gradients = autograd.grad(new[] { Output }, differentiable.Select(i => xs[i]).ToArray(), new[] { gradOutput },
                retain_graph: true, create_graph: createGraph, allow_unused: true);
            for (int j = 0; j < differentiable.Length; j++)
            {
                Tensor? g = gradients[j];
                result[differentiable[j]] = g is null || g.IsInvalid ? null : createGraph ? g : g.detach();
            }
        }
        return result.Select((g, i) => g ?? zeros_like(xs[i])).ToArray();
    }

    internal void Release()
    {
        if (inputs is not null)
        {
            foreach (Tensor x in inputs)
            {
                x.Dispose();
            }
        }
        inputs = null;
        output?.Dispose();
        output = null;
    }
}
