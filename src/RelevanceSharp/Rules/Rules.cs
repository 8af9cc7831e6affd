using System.Globalization;
using RelevanceSharp.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// LRP-epsilon: relevance is redistributed in proportion to each input's contribution <c>x * w</c>, the layer's
/// output stabilized by <c>epsilon</c>. <c>epsilon = 0</c> is LRP-0 (the sign-based stabilizer then only guards
/// exact zeros).
/// </summary>
public sealed class Epsilon : BasicRule
{
    /// <summary>Creates the rule with a plain epsilon.</summary>
    public Epsilon(double epsilon = 1e-6, IReadOnlyList<string>? zeroParameters = null)
        : this(new Stabilizer(epsilon), zeroParameters)
    {
    }

    /// <summary>Creates the rule with any stabilizer.</summary>
    public Epsilon(Stabilizer epsilon, IReadOnlyList<string>? zeroParameters = null)
        : base(
            new[] { new RuleTerm(TermInput.Same, ParameterModifier.Unmodified(zeroParameters)) },
            (gradOutput, outputs) => new[] { gradOutput / epsilon.Apply(outputs[0]) },
            $"Epsilon({epsilon})")
    {
        EpsilonStabilizer = epsilon;
    }

    /// <summary>The stabilizer of the output.</summary>
    public Stabilizer EpsilonStabilizer { get; }
}

/// <summary>
/// The generalized LRP-gamma rule: positive contributions are favoured by adding <c>gamma</c> times the positive
/// part of the weights (for positive outputs; the negative part for negative outputs). Five terms: positive and
/// negative inputs through the two modified weight sets for each output sign, plus the unmodified layer that only
/// decides the sign. The bias, modified like the weights, enters only the positive-input term of each pair.
/// </summary>
public sealed class Gamma : BasicRule
{
    /// <summary>Creates the rule.</summary>
    public Gamma(double gamma = 0.25, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
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
        positive.mul_(outputs[4].gt(0.0));
        Tensor negative = gradOutput / stabilizer.Apply(TermOutputs.Sum(outputs[2], outputs[3]));
        negative.mul_(outputs[4].lt(0.0));
        return new[] { positive, positive, negative, negative, TermOutputs.Zero(gradOutput) };
    }
}

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
}

/// <summary>
/// LRP-alpha-beta: positive contributions weighted by <c>alpha</c>, negative ones by <c>beta</c>, with
/// <c>alpha - beta = 1</c> so relevance is conserved.
/// </summary>
public sealed class AlphaBeta : BasicRule
{
    /// <summary>Creates the rule; alpha and beta must be non-negative with <c>alpha - beta = 1</c>.</summary>
    public AlphaBeta(double alpha = 2.0, double beta = 1.0, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : base(
            new[]
            {
                new RuleTerm(TermInput.PositivePart, ParameterModifier.Clamp(min: 0.0, zeroParameters: zeroParameters), alpha),
                new RuleTerm(TermInput.NegativePart, ParameterModifier.Clamp(max: 0.0, zeroParameters: ParameterModifier.WithBias(zeroParameters)), alpha),
                new RuleTerm(TermInput.PositivePart, ParameterModifier.Clamp(max: 0.0, zeroParameters: zeroParameters), -beta),
                new RuleTerm(TermInput.NegativePart, ParameterModifier.Clamp(min: 0.0, zeroParameters: ParameterModifier.WithBias(zeroParameters)), -beta),
            },
            (gradOutput, outputs) =>
            {
                Stabilizer s = stabilizer ?? Stabilizer.Default;
                Tensor positive = gradOutput / s.Apply(TermOutputs.Sum(outputs[0], outputs[1]));
                Tensor negative = gradOutput / s.Apply(TermOutputs.Sum(outputs[2], outputs[3]));
                return new[] { positive, positive, negative, negative };
            },
            $"AlphaBeta(alpha={alpha.ToString(CultureInfo.InvariantCulture)}, beta={beta.ToString(CultureInfo.InvariantCulture)})")
    {
        Validate(alpha, beta);
        Alpha = alpha;
        Beta = beta;
    }

    /// <summary>The weight of positive contributions.</summary>
    public double Alpha { get; }

    /// <summary>The weight of negative contributions.</summary>
    public double Beta { get; }

    private static void Validate(double alpha, double beta)
    {
        if (double.IsNaN(alpha) || double.IsNaN(beta) || alpha < 0 || beta < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alpha),
                $"AlphaBeta needs non-negative alpha and beta; got alpha={alpha}, beta={beta}.");
        }
        if (alpha - beta != 1.0)
        {
            throw new ArgumentException($"AlphaBeta needs alpha - beta = 1; got alpha={alpha}, beta={beta} (difference {alpha - beta}).");
        }
    }
}

/// <summary>
/// LRP-z^B for a bounded input domain [low, high], usually the first layer on pixel data. <c>low</c> and
/// <c>high</c> are scalars or tensors that broadcast to the input (e.g. per channel, shape <c>(1, C, 1, 1)</c>); a
/// tensor with a larger batch than the input is cut to the input's batch.
/// </summary>
public sealed class ZBox : BasicRule
{
    /// <summary>Creates the rule with scalar bounds.</summary>
    public ZBox(double low, double high, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : this(Keep(tensor(low, ScalarType.Float64)), Keep(tensor(high, ScalarType.Float64)), stabilizer, zeroParameters, kept: true)
    {
    }

    /// <summary>Creates the rule with tensor bounds (copied, so the caller may dispose them).</summary>
    public ZBox(Tensor low, Tensor high, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : this(Keep(low), Keep(high), stabilizer, zeroParameters, kept: true)
    {
    }

    private ZBox(Tensor low, Tensor high, Stabilizer? stabilizer, IReadOnlyList<string>? zeroParameters, bool kept)
        : base(
            new[]
            {
                new RuleTerm(TermInput.Same, ParameterModifier.Unmodified(zeroParameters)),
                new RuleTerm(TermInput.Other, ParameterModifier.Clamp(min: 0.0, zeroParameters: zeroParameters), -1.0,
                    x => TensorShapes.Expand(low, x.shape, cutBatch: true).to(x.dtype, x.device)),
                new RuleTerm(TermInput.Other, ParameterModifier.Clamp(max: 0.0, zeroParameters: zeroParameters), -1.0,
                    x => TensorShapes.Expand(high, x.shape, cutBatch: true).to(x.dtype, x.device)),
            },
            (gradOutput, outputs) =>
            {
                Tensor shared = gradOutput / (stabilizer ?? Stabilizer.Default).Apply(outputs[0] - (outputs[1] + outputs[2]));
                return new[] { shared, shared, shared };
            },
            "ZBox")
    {
        _ = kept;
        Low = low;
        High = high;
    }

    private static Tensor Keep(Tensor bound)
    {
        ArgumentNullException.ThrowIfNull(bound);
        if (!bound.is_floating_point())
        {
            bound = bound.to(ScalarType.Float64);
        }
        return bound.detach().clone().DetachFromDisposeScope();
    }

    /// <summary>The lower bound.</summary>
    public Tensor Low { get; }

    /// <summary>The upper bound.</summary>
    public Tensor High { get; }
}

/// <summary>
/// Normalizes relevance by the layer's output and multiplies by the input: LRP-epsilon without parameters, for
/// average pools and sums.
/// </summary>
public sealed class Norm : BasicRule
{
    /// <summary>Creates the rule.</summary>
    public Norm(Stabilizer? stabilizer = null)
        : base(
            new[] { new RuleTerm(TermInput.Same, new ParameterModifier((p, _) => p, ParameterNames: Array.Empty<string>()) { KeepsValues = true }) },
            (gradOutput, outputs) => new[] { gradOutput / (stabilizer ?? Stabilizer.Default).Apply(outputs[0]) },
            "Norm")
    {
    }
}

/// <summary>LRP-w²: relevance spread in proportion to the squared weights, independent of the input.</summary>
public sealed class WSquare : BasicRule
{
    /// <summary>Creates the rule.</summary>
    public WSquare(Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : base(
            new[] { new RuleTerm(TermInput.Ones, new ParameterModifier((p, _) => p.square(), ZeroParameters: zeroParameters)) },
            (gradOutput, outputs) => new[] { gradOutput / (stabilizer ?? Stabilizer.Default).Apply(outputs[0]) },
            "WSquare")
    {
    }
}

/// <summary>LRP-flat: relevance spread uniformly over each output's receptive field (all weights one, no bias).</summary>
public sealed class Flat : BasicRule
{
    /// <summary>Creates the rule.</summary>
    public Flat(Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : base(
            new[] { new RuleTerm(TermInput.Ones, new ParameterModifier((p, _) => ones_like(p), ZeroParameters: ParameterModifier.WithBias(zeroParameters), RequireParameters: false)) },
            (gradOutput, outputs) => new[] { gradOutput / (stabilizer ?? Stabilizer.Default).Apply(outputs[0]) },
            "Flat")
    {
    }
}

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
        module is TorchSharp.Modules.BatchNorm batchNorm && !batchNorm.training && Canonizers.BatchNormState.IsMerged(batchNorm);

    /// <inheritdoc />
    public override string ToString() => "Pass";
}

/// <summary>DeconvNet's ReLU: passes only the positive part of the gradient at the output, ignoring the forward mask.</summary>
public sealed class ReLUDeconvNet : Rule
{
    /// <inheritdoc />
    public override Tensor Backward(RuleCall call, Tensor gradOutput) => gradOutput.clamp_min(0.0);

    /// <inheritdoc />
    public override bool ReadsOutput => false;

    /// <inheritdoc />
    public override string ToString() => "ReLUDeconvNet";
}

/// <summary>Guided backpropagation's ReLU: the ordinary gradient where the gradient at the output is positive.</summary>
public sealed class ReLUGuidedBackprop : Rule
{
    /// <inheritdoc />
    public override Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput) =>
        gradInput * gradOutput.gt(0.0).to(gradInput.dtype);

    /// <inheritdoc />
    public override string ToString() => "ReLUGuidedBackprop";
}

/// <summary>
/// Replaces a ReLU's gradient by that of softplus with sharpness <c>beta</c>, i.e. <c>sigmoid(beta * x)</c>, so
/// that second-order gradients of ReLU networks are meaningful.
/// </summary>
public sealed class ReLUBetaSmooth : Rule
{
    /// <summary>Creates the rule.</summary>
    public ReLUBetaSmooth(double betaSmooth = 10.0)
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
        return sigmoid(input * BetaSmooth) * gradOutput;
    }

    /// <inheritdoc />
    public override string ToString() => $"ReLUBetaSmooth(beta={BetaSmooth.ToString(CultureInfo.InvariantCulture)})";
}
