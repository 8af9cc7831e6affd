using System.Globalization;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// Replaces a ReLU's gradient by that of softplus with sharpness <c>beta</c>, i.e. <c>sigmoid(beta * x)</c>, so
/// that second-order gradients of ReLU networks are meaningful.
/// </summary>
public sealed class ReLUBetaSmooth : Rule
{
    /// <summary>The softplus sharpness of the rule and of the <c>beta_smooth</c> composite unless given another.</summary>
    public const double DefaultBeta = 10.0;

    /// <summary>Creates the rule.</summary>
    public ReLUBetaSmooth(double betaSmooth = DefaultBeta)
    {
        BetaSmooth = betaSmooth;
    }

    /// <summary>The softplus sharpness.</summary>
    public double BetaSmooth { get; }

    /// <inheritdoc />
    public override Tensor Backward(RuleCall call, Tensor gradOutput)
    {
        // Keep the graph to the input only for a higher-order gradient (grad mode is on inside the backward pass
        // exactly when autograd records it); gradOutput.requires_grad is false there when parameters are frozen.
        Tensor input = is_grad_enabled() ? call.Input : call.Input.detach();
        return sigmoid(input.mul(Scalars.Of(BetaSmooth))) * gradOutput;
    }

    /// <inheritdoc />
    public override string ToString() => $"ReLUBetaSmooth(beta={BetaSmooth.ToString(CultureInfo.InvariantCulture)})";
}
