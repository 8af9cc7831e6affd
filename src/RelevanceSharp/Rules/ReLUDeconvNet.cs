using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>DeconvNet's ReLU: passes only the positive part of the gradient at the output, ignoring the forward mask.</summary>
public sealed class ReLUDeconvNet : Rule
{
    /// <inheritdoc />
    public override Tensor Backward(RuleCall call, Tensor gradOutput) => gradOutput.clamp_min(Scalars.Of(0.0));

    /// <inheritdoc />
    public override bool ReadsOutput => false;

    /// <inheritdoc />
    public override string ToString() => "ReLUDeconvNet";
}
