using RelevanceSharp.Attribution;
using TorchSharp;
using static RelevanceSharp.Tests.Attribution.HandLinear;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Attribution;

public class IntegratedGradientsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(20)]
    public void OnALinearModelItIsInputMinusBaselineTimesTheWeight(int steps)
    {
        using var scope = NewDisposeScope();
        using AttributionResult result = new IntegratedGradients(Linear(Weight, Bias), iterations: steps).Attribute(T(Input, 2, 4), AttributionTarget.Class(1));
        double[] expected = Input.Select((v, i) => v * Weight[1, i % 4]).ToArray();
        AssertClose(expected, result.Relevance, 1e-14);
    }

    [Fact]
    public void ACustomBaselineIsSubtracted()
    {
        using var scope = NewDisposeScope();
        double[] baseline = { 0.5, 0.5, -0.5, 1.0 };
        var ig = new IntegratedGradients(Linear(Weight, Bias), baseline: x => T(baseline, 1, 4).expand(x.shape).clone(), iterations: 5);
        using AttributionResult result = ig.Attribute(T(Input, 2, 4), AttributionTarget.Class(2));
        double[] expected = Input.Select((v, i) => (v - baseline[i % 4]) * Weight[2, i % 4]).ToArray();
        AssertClose(expected, result.Relevance, 1e-14);
        // Completeness for a linear model: the attributions add up to f(x) - f(baseline).
        for (int n = 0; n < 2; n++)
        {
            double difference = Enumerable.Range(0, 4).Sum(i => Weight[2, i] * (Input[n * 4 + i] - baseline[i]));
            Assert.Equal(difference, D(result.Relevance)[(n * 4)..((n + 1) * 4)].Sum(), 12);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(10)]
    public void StepsAreOneNthUpToTheInputItself(int steps)
    {
        // With alpha_k = k/n, k = 1..n, IG = x * mean_k(alpha_k x) = x^2 (n + 1) / (2n); the right Riemann sum, not
        // the left one ((n - 1) / (2n)) or the midpoint one (1/2). The alphas are float32 values, hence 1e-7.
        using var scope = NewDisposeScope();
        using AttributionResult result = new IntegratedGradients(PowerSum.HalfSquare(), iterations: steps).Attribute(T(Input, 2, 4), AttributionTarget.Class(0));
        double factor = (steps + 1) / (2.0 * steps);
        AssertClose(Input.Select(v => v * v * factor).ToArray(), result.Relevance, 1e-7);
    }
}
