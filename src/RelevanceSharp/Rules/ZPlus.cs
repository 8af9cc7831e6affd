using RelevanceSharp.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>LRP-z+ (alpha 1, beta 0 for arbitrary input signs): only positive contributions carry relevance.</summary>
public sealed class ZPlus : BasicRule
{
    /// <summary>Creates the rule.</summary>
    public ZPlus(Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : base(
            new[]
            {
                new RuleTerm(TermInput.PositivePart, ParameterModifier.Clamp(min: 0.0, zeroParameters: zeroParameters)),
                new RuleTerm(TermInput.NegativePart, ParameterModifier.Clamp(max: 0.0, zeroParameters: ParameterModifier.WithBias(zeroParameters))),
            },
            (gradOutput, outputs) =>
            {
                Tensor shared = gradOutput / (stabilizer ?? Stabilizer.Default).Apply(TermOutputs.Sum(outputs[0], outputs[1]));
                return new[] { shared, shared };
            },
            "ZPlus")
    {
        Stabilizer = stabilizer ?? Stabilizer.Default;
    }

    /// <summary>The stabilizer of the denominator.</summary>
    public Stabilizer Stabilizer { get; }

    /// <inheritdoc />
    /// <remarks>On dense layers and convolutions, one layer call with the stabilizer in its bias (see <c>InOneCall</c>).</remarks>
    protected override Tensor? Shortcut(RuleCall call, Tensor gradOutput, LayerCall layer) =>
        InOneCall.Applies(this, layer.Module, layer.Parameters)
            ? InOneCall.Compute(this, Terms!, call, gradOutput, layer.Input, layer.Output, layer.Parameters, layer.ChannelDim)
            : null;

    /// <summary>
    /// ZPlus on a dense layer or convolution. Its denominator <c>W+ x+ + W- x- + b+</c> is a sum of non-negative
    /// products and a non-negative bias (the negative-input term's bias is always zeroed), so the plain stabilizer adds
    /// exactly epsilon: that goes into the bias of one layer call (<see cref="SignSplit"/>: both parts of the input
    /// stacked, or the one part there is after a ReLU), and the relevance <c>x+ * W+^T (g / z) + x- * W-^T (g / z)</c>
    /// comes from one backward step.
    /// </summary>
    private static class InOneCall
    {
        public static bool Applies(ZPlus rule, nn.Module module, IReadOnlyDictionary<string, Tensor?> effective) =>
            rule.Stabilizer.ConstantShift is not null && KnownSign.IsAffine(module, effective);

        public static Tensor Compute(ZPlus rule, IReadOnlyList<RuleTerm> terms, RuleCall call, Tensor gradOutput, Tensor x, Tensor y,
            IReadOnlyDictionary<string, Tensor?> effective, long channelDim)
        {
            call.Activity.Counters?.ZPlusInOneCall += 1;
            nn.Module<Tensor, Tensor> module = call.Module;
            IReadOnlyDictionary<string, Tensor?> positive = terms[0].Parameters.Apply(module, effective);
            Tensor bias = KnownSign.ShiftedBias(positive.GetValueOrDefault("bias"), rule.Stabilizer.ConstantShift!.Value, y, channelDim);
            var split = SignSplit.Run(module, x, ChannelSigns.OfLayerInput(module, x),
                () => positive["weight"]!, () => terms[1].Parameters.Apply(module, effective)["weight"]!, bias, call.Activity.Counters);
            return split.Relevance(gradOutput / split.Output.detach());
        }
    }
}
