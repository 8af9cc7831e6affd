using System.Globalization;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

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
