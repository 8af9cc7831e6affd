using RelevanceSharp.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// AttnLRP's rule for layer norms (Achtibat et al., ICML 2024; the linearization of Ali et al., ICML 2022): the layer
/// <c>y = w * (x - mean(x)) / sigma + b</c> is treated as linear in <c>x</c> with <c>sigma = sqrt(var(x) + eps)</c> held
/// constant, and the relevance is input times the gradient of that linear map:
/// <c>R_in = x * (v - mean(v)) / sigma</c> with <c>v = w * R_out / y</c> (stabilized), the means over the normalized
/// dimensions. The centering stays part of the map. The relevance leaving the layer sums to what arrives less the
/// bias's share <c>sum(b * R_out / y)</c>. For <c>TorchSharp.Modules.LayerNorm</c>.
/// </summary>
public sealed class LayerNormRule : Rule
{
    /// <summary>Creates the rule.</summary>
    /// <param name="stabilizer">The stabilizer of the output; <see cref="Stabilizer.Exact"/> when <c>null</c>.</param>
    public LayerNormRule(Stabilizer? stabilizer = null)
    {
        OutputStabilizer = stabilizer ?? Stabilizer.Exact;
    }

    /// <summary>The stabilizer of the layer's output in the division.</summary>
    public Stabilizer OutputStabilizer { get; }

    /// <inheritdoc />
    public override Tensor Backward(RuleCall call, Tensor gradOutput)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(gradOutput);
        if (call.Module is not TorchSharp.Modules.LayerNorm norm)
        {
            throw new NotSupportedException(
                $"Rule {this} computes the relevance of a layer norm and was attached to {call.Module.Describe()}.");
        }
        bool createGraph = is_grad_enabled();
        Tensor x = createGraph ? call.Input : call.Input.detach();
        Tensor y = createGraph ? call.Output : call.Output.detach();
        long[] dims = Enumerable.Range((int)x.dim() - norm.normalized_shape.Length, norm.normalized_shape.Length).Select(d => (long)d).ToArray();
        Tensor v = gradOutput / OutputStabilizer.Apply(y);
        if (norm.weight is { } weight)
        {
            v = v * (createGraph ? weight : weight.detach());
        }
        // sigma is held constant: computed without a path back to x, also in a higher-order pass.
        Tensor sigma = x.detach().var(dims, unbiased: false, keepdim: true).add_(Scalars.Of(norm.eps), Scalars.One).sqrt_();
        return x * ((v - v.mean(dims, keepdim: true)) / sigma);
    }

    /// <inheritdoc />
    public override string ToString() => "LayerNormRule";
}
