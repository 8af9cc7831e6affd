using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>Passes the relevance at the output on to the input unchanged (for element-wise layers).</summary>
public sealed class Pass : Rule
{
    /// <inheritdoc />
    public override Tensor Backward(RuleCall call, Tensor gradOutput) =>
        gradOutput.shape.SequenceEqual(call.Input.shape) ? gradOutput : call.NaturalGradient(gradOutput);

    /// <inheritdoc />
    public override bool ReadsOutput => false;

    /// <summary>
    /// A batch norm merged into a neighbouring layer computes the identity, whose gradient is already what Pass hands
    /// on: no rule step is needed for it.
    /// </summary>
    internal override bool ChangesNothing(nn.Module module) =>
        module is TorchSharp.Modules.BatchNorm batchNorm && !batchNorm.training && IdentityModules.Contains(batchNorm);

    /// <inheritdoc />
    public override string ToString() => "Pass";
}
