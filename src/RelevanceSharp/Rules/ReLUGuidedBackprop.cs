using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>Guided backpropagation's ReLU: the ordinary gradient where the gradient at the output is positive.</summary>
public sealed class ReLUGuidedBackprop : Rule
{
    /// <inheritdoc />
    public override Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput) =>
        gradInput * gradOutput.gt(Scalars.Of(0.0)).to(gradInput.dtype);

    /// <inheritdoc />
    public override string ToString() => "ReLUGuidedBackprop";
}
