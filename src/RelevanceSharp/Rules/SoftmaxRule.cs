using RelevanceSharp.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// AttnLRP's rule for the softmax (Achtibat et al., ICML 2024): input times the softmax's gradient, written in
/// relevances, <c>R_in = x * (R_out - s * sum(R_out))</c> with <c>x</c> the softmax's input, <c>s</c> its output and the
/// sum over the softmax's dimension. It needs no division. It is not conservative: the relevance the logits'
/// common level would carry (a softmax ignores it) is absorbed. Entries with an infinite input (a mask written as
/// <c>-inf</c>) have output zero and receive no relevance. For <c>TorchSharp.Modules.Softmax</c>.
/// </summary>
public sealed class SoftmaxRule : Rule
{
    /// <inheritdoc />
    public override Tensor Backward(RuleCall call, Tensor gradOutput)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(gradOutput);
        if (call.Module is not TorchSharp.Modules.Softmax softmax)
        {
            throw new NotSupportedException(
                $"Rule {this} computes the relevance of a softmax and was attached to {call.Module.Describe()}.");
        }
        bool createGraph = is_grad_enabled();
        Tensor x = createGraph ? call.Input : call.Input.detach();
        Tensor s = createGraph ? call.Output : call.Output.detach();
        Tensor kept = gradOutput - s * gradOutput.sum(softmax.dim, keepdim: true);
        Tensor relevance = x * kept;
        // -inf * 0 is NaN: a masked entry (output zero, no relevance arriving) gets none.
        return where(x.isfinite(), relevance, zeros_like(relevance));
    }

    /// <inheritdoc />
    public override string ToString() => "SoftmaxRule";
}
