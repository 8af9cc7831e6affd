using RelevanceSharp.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// The rules for a product of computed tensors (<see cref="Layers.MatMul"/>, <see cref="Layers.Multiply"/>, or any
/// module whose output is multilinear in its inputs): each input gets a share of its input-times-gradient relevance,
/// <c>R_i = share_i * x_i * (dy/dx_i)^T (R / y)</c>, with <c>y</c> the module's output, stabilized. A product is linear
/// in each factor, so each factor's unshared term sums to the relevance at the output, and shares that add up to one
/// conserve it. The gradients come from the forward pass's own graph (one backward step of the product per input with
/// a share); inputs with share zero cost nothing.
/// </summary>
public abstract class ProductRule : Rule
{
    /// <summary>Creates the rule.</summary>
    /// <param name="stabilizer">The stabilizer of the output; <see cref="Stabilizer.Exact"/> when <c>null</c>.</param>
    protected ProductRule(Stabilizer? stabilizer)
    {
        OutputStabilizer = stabilizer ?? Stabilizer.Exact;
    }

    /// <summary>The stabilizer of the module's output in the division.</summary>
    public Stabilizer OutputStabilizer { get; }

    /// <summary>The share of each input, for one call; one entry per input.</summary>
    protected abstract double[] Shares(nn.Module module, int inputs);

    /// <inheritdoc />
    public override bool SupportsMultipleInputs => true;

    /// <inheritdoc />
    /// <remarks>
    /// The inputs whose share is zero. Where the shares cannot be given for this module (a gate it does not name), none:
    /// the backward step then reports why, as it does without this.
    /// </remarks>
    public override IReadOnlyList<bool>? ConstantInputs(nn.Module module, int inputs)
    {
        if (inputs < 2)
        {
            return null;
        }
        double[] shares;
        try
        {
            shares = Shares(module, inputs);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
        return shares.Length == inputs && shares.Any(s => s == 0.0) ? shares.Select(s => s == 0.0).ToArray() : null;
    }

    /// <inheritdoc />
    public override IReadOnlyList<Tensor> Backward(MultiInputCall call, Tensor gradOutput)
    {
        ArgumentNullException.ThrowIfNull(call);
        double[] shares = Shares(call.Module, call.Inputs.Count);
        if (shares.Length != call.Inputs.Count)
        {
            throw new InvalidOperationException(
                $"Rule {this} gave {shares.Length} shares for {call.Module.Describe()}, which takes {call.Inputs.Count} inputs.");
        }
        return InputTimesGradient(call.Inputs, call.Output, gradOutput, shares, OutputStabilizer);
    }

    /// <summary>
    /// A module with one input is a product of one factor: its input gets the whole input-times-gradient relevance,
    /// <c>R = x * (dy/dx)^T (R / y)</c>.
    /// </summary>
    public override Tensor Backward(RuleCall call, Tensor gradOutput)
    {
        ArgumentNullException.ThrowIfNull(call);
        return InputTimesGradient([call.Input], call.Output, gradOutput, [1.0], OutputStabilizer)[0];
    }

    /// <summary>
    /// <c>share_i * x_i * (dy/dx_i)^T (R / stabilized y)</c> for each input <c>x_i</c> of <paramref name="output"/>,
    /// through the graph that connects them (kept for a higher-order pass, when grad mode is on); zeros for inputs with
    /// share zero or without a path to the output.
    /// </summary>
    public static IReadOnlyList<Tensor> InputTimesGradient(IReadOnlyList<Tensor> inputs, Tensor output, Tensor relevance,
        IReadOnlyList<double> shares, Stabilizer stabilizer)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(relevance);
        ArgumentNullException.ThrowIfNull(shares);
        ArgumentNullException.ThrowIfNull(stabilizer);
        // Inside a backward pass autograd enables grad mode exactly when it records the backward for a higher order.
        bool createGraph = is_grad_enabled();
        int[] wanted = Enumerable.Range(0, inputs.Count).Where(i => shares[i] != 0.0 && inputs[i].requires_grad).ToArray();
        var result = new Tensor[inputs.Count];
        if (wanted.Length > 0 && output.requires_grad)
        {
            Tensor scaled = relevance / stabilizer.Apply(createGraph ? output : output.detach());
            using var grad = enable_grad();
            IList<Tensor> gradients = autograd.grad([output], wanted.Select(i => inputs[i]).ToArray(), [scaled],
                retain_graph: true, create_graph: createGraph, allow_unused: true);
            for (int j = 0; j < wanted.Length; j++)
            {
                int i = wanted[j];
                Tensor? g = gradients[j];
                if (g is null || g.IsInvalid)
                {
                    continue;
                }
                Tensor x = createGraph ? inputs[i] : inputs[i].detach();
                Tensor product = x * (createGraph ? g : g.detach());
                result[i] = shares[i] == 1.0 ? product : product.mul_(Scalars.Of(shares[i]));
            }
        }
        for (int i = 0; i < inputs.Count; i++)
        {
            result[i] ??= zeros_like(inputs[i]);
        }
        return result;
    }
}
