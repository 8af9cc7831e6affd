using System.Globalization;
using RelevanceSharp.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// The generalized LRP-gamma rule: positive contributions are favoured by adding <c>gamma</c> times the positive
/// part of the weights (for positive outputs; the negative part for negative outputs). Five terms: positive and
/// negative inputs through the two modified weight sets for each output sign, plus the unmodified layer that only
/// decides the sign. The bias, modified like the weights, enters only the positive-input term of each pair.
/// </summary>
public sealed class Gamma : BasicRule
{
    /// <summary>The gamma of the rule and of the named composites unless given another.</summary>
    public const double DefaultGamma = 0.25;

    /// <summary>Creates the rule.</summary>
    public Gamma(double gamma = DefaultGamma, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : base(
            new[]
            {
                new RuleTerm(TermInput.PositivePart, ParameterModifier.Gamma(gamma, min: 0.0, zeroParameters: zeroParameters)),
                new RuleTerm(TermInput.NegativePart, ParameterModifier.Gamma(gamma, max: 0.0, zeroParameters: ParameterModifier.WithBias(zeroParameters))),
                new RuleTerm(TermInput.PositivePart, ParameterModifier.Gamma(gamma, max: 0.0, zeroParameters: zeroParameters)),
                new RuleTerm(TermInput.NegativePart, ParameterModifier.Gamma(gamma, min: 0.0, zeroParameters: ParameterModifier.WithBias(zeroParameters))),
                // The unmodified layer only decides the sign of each output; it carries no relevance.
                new RuleTerm(TermInput.Same, ParameterModifier.Identity, Coefficient: 0.0),
            },
            (gradOutput, outputs) => MapGradients(gradOutput, outputs, stabilizer ?? Stabilizer.Default),
            $"Gamma(gamma={gamma.ToString(CultureInfo.InvariantCulture)})")
    {
        if (double.IsNaN(gamma))
        {
            throw new ArgumentOutOfRangeException(nameof(gamma), "gamma must be a number.");
        }
        GammaValue = gamma;
        Stabilizer = stabilizer ?? Stabilizer.Default;
    }

    /// <summary>The gamma parameter.</summary>
    public double GammaValue { get; }

    /// <summary>The stabilizer of the denominators.</summary>
    public Stabilizer Stabilizer { get; }

    private static IReadOnlyList<Tensor> MapGradients(Tensor gradOutput, IReadOnlyList<Tensor> outputs, Stabilizer stabilizer)
    {
        // Each output sign takes its own pair of terms; the masks select in place on the quotients.
        Tensor positive = gradOutput / stabilizer.Apply(TermOutputs.Sum(outputs[0], outputs[1]));
        positive.mul_(outputs[4].gt(Scalars.Of(0.0)));
        Tensor negative = gradOutput / stabilizer.Apply(TermOutputs.Sum(outputs[2], outputs[3]));
        negative.mul_(outputs[4].lt(Scalars.Of(0.0)));
        return new[] { positive, positive, negative, negative, TermOutputs.Zero(gradOutput) };
    }

    /// <inheritdoc />
    /// <remarks>On dense layers and convolutions, from the forward output and one more layer call (see <c>FromOutput</c>).</remarks>
    protected override Tensor? Shortcut(RuleCall call, Tensor gradOutput, LayerCall layer) =>
        FromOutput.Applies(this, Terms!, layer.Module, layer.Parameters)
            ? FromOutput.Compute(this, call, gradOutput, layer.Input, layer.Output, layer.Bias, layer.Parameters["weight"]!, layer.ChannelDim)
            : null;

    /// <summary>
    /// The Gamma rule on a dense layer or convolution from the forward output and one more layer call. Its weights are
    /// <c>W + g W+</c> on <c>x+</c> and <c>W + g W-</c> on <c>x-</c> for positive outputs, the other way round for
    /// negative ones (biases alike, the negative-input terms' zeroed). With <c>y = Wx + b</c> (the forward output) and
    /// <c>P = g (W+ x+ + W- x- + b+)</c>, which cannot be negative, the denominators are <c>y + P</c> where
    /// <c>y &gt; 0</c> (so positive) and <c>(1 + g) y - P</c> where <c>y &lt; 0</c> (so negative), because
    /// <c>W- x+ + W+ x- = Wx - (W+ x+ + W- x-)</c>: the stabilizer adds epsilon to <c>P</c>, in its bias. With <c>s</c>
    /// the output gradient over the denominator, zero where <c>y = 0</c>, the relevance is
    /// <c>x * W^T (s + g s-) + g (x+ * W+^T u + x- * W-^T u)</c> with <c>u = s+ - s-</c>: one backward step through the
    /// forward pass's graph and one through <c>P</c>: for an input of both signs the layer applied to <c>|x|</c> with
    /// <c>|W|</c> gives it (see <c>Magnitudes</c>), otherwise <see cref="SignSplit"/> with the one part there is (after a
    /// ReLU). Equal to the term-by-term computation up to rounding.
    /// </summary>
    private static class FromOutput
    {
        /// <summary>
        /// Whether the rule's terms are Gamma's own with the bias kept (zeroing it would leave the denominators' signs
        /// unknown), gamma is not negative (a negative one would not keep <c>P</c> non-negative), the stabilizer is a
        /// plain shift and the layer is a dense layer or a convolution.
        /// </summary>
        public static bool Applies(Gamma rule, IReadOnlyList<RuleTerm> terms, nn.Module module, IReadOnlyDictionary<string, Tensor?> effective) =>
            rule.GammaValue >= 0.0 && rule.Stabilizer.ConstantShift is not null && KnownSign.IsAffine(module, effective)
            && terms.Count == 5 && terms[0].Input == TermInput.PositivePart && terms[2].Input == TermInput.PositivePart
            && terms[4].Input == TermInput.Same && terms[4].Coefficient == 0.0
            && terms.Take(4).All(t => TermRelevance.ZeroesAtMostBias(t.Parameters))
            && (effective.GetValueOrDefault("bias") is null || !terms[0].Parameters.Zeroes("bias") && !terms[2].Parameters.Zeroes("bias"));

        public static Tensor Compute(Gamma rule, RuleCall call, Tensor gradOutput, Tensor x, Tensor y, Tensor? bias, Tensor weight, long channelDim)
        {
            double gamma = rule.GammaValue;
            EngineCounters? stats = call.Activity.Counters;
            stats?.GammaFromOutput += 1;
            stats?.NaturalTerms += 1;

            nn.Module<Tensor, Tensor> module = call.Module;
            Tensor shiftedBias = KnownSign.ShiftedBias(bias?.clamp_min(Scalars.Of(0.0)).mul_(Scalars.Of(gamma)), rule.Stabilizer.ConstantShift!.Value, y, channelDim);
            ChannelSigns signs = ChannelSigns.OfLayerInput(module, x);
            // Inputs of both signs (after a layer norm, a GELU, an attention): the magnitude form, one call of the
            // layer's size instead of a stacked one of up to twice its size. Otherwise the one part there is.
            Magnitudes? magnitudes = null;
            SignSplit? split = null;
            Tensor p;
            if (gamma > 0.0 && !signs.NonNegative && !signs.NonPositive)
            {
                magnitudes = Magnitudes.Run(module, x, weight, stats);
                p = magnitudes.PositiveSum(y, bias, channelDim, gamma, shiftedBias);
            }
            else
            {
                split = SignSplit.Run(module, x, signs,
                    () => weight.clamp_min(Scalars.Of(0.0)).mul_(Scalars.Of(gamma)), () => weight.clamp_max(Scalars.Of(0.0)).mul_(Scalars.Of(gamma)), shiftedBias, stats);
                p = split.Output.detach();
            }
            // Selections by the sign of y in float arithmetic (boolean masks and where() cost several times a plain
            // pass): with sign = sign(y) and nonzero = |sign|, the denominator is y + sign * P + g * min(y, 0), that is
            // y + P where y > 0 and (1 + g) y - P where y < 0; where y = 0 it is set to 1 and the gradient to 0.
            Tensor sign = y.sign();
            Tensor nonzero = sign.abs();
            Tensor denominator = sign.mul(p).add_(y, Scalars.One).add_(y.clamp_max(Scalars.Of(0.0)), Scalars.Of(gamma)).add_(nonzero.neg().add_(Scalars.Of(1.0), Scalars.One), Scalars.One);
            Tensor quotient = gradOutput.mul(nonzero).div_(denominator);
            // Seeds: s (1 + g) where y < 0 and s elsewhere through the layer; u = s where y > 0 and -s where y < 0
            // through P.
            Tensor seed = quotient.add(quotient.mul(sign.clamp_max(Scalars.Of(0.0))), Scalars.Of(-gamma));
            Tensor u = quotient.mul_(sign);
            if (magnitudes is not null)
            {
                // g (x+ * W+^T u + x- * W-^T u) = g/2 (x * W^T u + |x| * |W|^T u): the first half joins the layer's seed.
                Tensor layerPart = call.NaturalGradient(seed.add_(u, Scalars.Of(gamma / 2.0)));
                stats?.Gradients += 2;
                return layerPart.mul_(x).add_(magnitudes.Relevance(u), Scalars.Of(gamma / 2.0));
            }
            Tensor throughLayer = call.NaturalGradient(seed);
            stats?.Gradients += 1;
            return throughLayer.mul_(x).add_(split!.Relevance(u), Scalars.One);
        }

        /// <summary>
        /// The layer applied to <c>|x|</c> with <c>|W|</c>, no bias: since <c>W+ x+ + W- x- = (W x + |W| |x|) / 2</c>
        /// term by term, it gives the sum over both signs from the forward output in one call of the layer's own size,
        /// and <c>x+ * W+^T u + x- * W-^T u = (x * W^T u + |x| * |W|^T u) / 2</c> gives the relevance from one
        /// backward step through it and one through the layer. In floating point the difference to the two-part sum
        /// is of the size of the rounding already in <c>W x</c>.
        /// </summary>
        private sealed class Magnitudes
        {
            private Magnitudes(Tensor input, Tensor output)
            {
                Input = input;
                Output = output;
            }

            private Tensor Input { get; }

            private Tensor Output { get; }

            public static Magnitudes Run(nn.Module<Tensor, Tensor> module, Tensor x, Tensor weight, EngineCounters? stats)
            {
                using var grad = enable_grad();
                Tensor input = x.detach().abs().requires_grad_(true);
                Tensor output = LayerCompute.Forward(module, input, new Dictionary<string, Tensor?> { ["weight"] = weight.abs(), ["bias"] = null });
                stats?.LayerCalls += 1;
                stats?.MagnitudeCalls += 1;
                return new Magnitudes(input, output);
            }

            /// <summary><c>P = g/2 (y - b + |W| |x|) + b'</c>: the forward output without its bias, plus the magnitudes.</summary>
            public Tensor PositiveSum(Tensor y, Tensor? bias, long channelDim, double gamma, Tensor shiftedBias)
            {
                Tensor sum = Output.detach().add(y, Scalars.One);
                if (bias is not null)
                {
                    sum.add_(LayerCompute.BroadcastBias(bias, sum.dim(), channelDim), Scalars.Of(-1.0));
                }
                return LayerCompute.AddBias(sum.mul_(Scalars.Of(gamma / 2.0)), shiftedBias, channelDim);
            }

            /// <summary><c>|x| * |W|^T u</c> for the output gradient <paramref name="u"/>.</summary>
            public Tensor Relevance(Tensor u) => autograd.grad(new[] { Output }, new[] { Input }, new[] { u })[0].mul_(Input.detach());
        }
    }
}
