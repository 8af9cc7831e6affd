using RelevanceSharp.Attribution;
using TorchSharp;
using static RelevanceSharp.Tests.Attribution.HandLinear;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Attribution;

public class GradientShapTests
{
    [Fact]
    public void OnALinearModelFromZeroItIsTheInputTimesTheWeight()
    {
        // The gradient of a linear model is its weight row wherever it is taken, so (x - 0) * W_1 whatever the alphas:
        // row 0: [1 * -0.25, -2 * 0.75, 0.5 * -1, 0 * 3] = [-0.25, -1.5, -0.5, 0]; row 1: [-0.75, 0.1875, 1, 6].
        using var scope = NewDisposeScope();
        var shap = new GradientShap(Support.Linear(Weight, Bias), baselines: zeros(1, dtype: ScalarType.Float64), samples: 7, noiseLevel: 0, seed: 1);
        using AttributionResult result = shap.Attribute(T(Input, 2, 4), AttributionTarget.Class(1));
        AssertClose([-0.25, -1.5, -0.5, 0, -0.75, 0.1875, 1, 6], result.Relevance, 1e-14);
    }

    [Fact]
    public void ABaselineIsSubtractedAndTheAttributionsAddUpToTheScoreDifference()
    {
        // One baseline b = [0.5, 0.5, -0.5, 1]: (x - b) * W_2, row 0: [0.5 * 1, -2.5 * 1, 1 * -2, -1 * 0.5] = [0.5, -2.5, -2, -0.5],
        // which add up to f_2(x) - f_2(b) = -4.5 (linear model).
        using var scope = NewDisposeScope();
        double[] baseline = [0.5, 0.5, -0.5, 1.0];
        var shap = new GradientShap(Support.Linear(Weight, Bias), baselines: T(baseline, 1, 4), samples: 3, noiseLevel: 0, seed: 2);
        using AttributionResult result = shap.Attribute(T(Input[..4], 1, 4), AttributionTarget.Class(2));
        AssertClose([0.5, -2.5, -2, -0.5], result.Relevance, 1e-14);
        double difference = Enumerable.Range(0, 4).Sum(i => Weight[2, i] * (Input[i] - baseline[i]));
        Assert.Equal(-4.5, difference, 14);
        Assert.Equal(difference, D(result.Relevance).Sum(), 14);
    }

    [Fact]
    public void ThePointOnThePathIsDrawnUniformly()
    {
        // From the zero baseline the gradient at alpha_k x is alpha_k x, so the attribution is x^2 * mean_k(alpha_k), with
        // the alphas drawn per sample after the baseline's index, from the generator seeded with the seed.
        using var scope = NewDisposeScope();
        const int n = 5;
        const long seed = 3;
        using var generator = new Generator(seed);
        double[] alphaSums = new double[2];
        for (int k = 0; k < n; k++)
        {
            randint(1, [2], dtype: ScalarType.Int64, generator: generator);
            double[] alpha = D(rand([2, 1], ScalarType.Float64, generator: generator));
            alphaSums[0] += alpha[0];
            alphaSums[1] += alpha[1];
        }
        double[] expected = Input.Select((v, i) => v * v * alphaSums[i / 4] / n).ToArray();
        var shap = new GradientShap(PowerSum.HalfSquare(), baselines: zeros(1, dtype: ScalarType.Float64), samples: n, noiseLevel: 0, seed: seed);
        using AttributionResult result = shap.Attribute(T(Input, 2, 4), AttributionTarget.Class(0));
        AssertClose(expected, result.Relevance, 1e-14);
    }

    [Fact]
    public void TheNoiseIsAddedToTheInputBeforeTheBaselineIsSubtracted()
    {
        // Captum's GradientShap runs its input-minus-baseline step on the noisy input: for a linear model and the zero
        // baseline, the attribution is mean_k (x + e_k) * W_0, e_k = randn * 0.1 * (max - min) of each row (0.1 * 3 for [1, -2, 0.5, 0]
        // and 0.1 * 4 for [3, 0.25, -1, 2]).
        using var scope = NewDisposeScope();
        const int n = 4;
        const long seed = 4;
        double[] sigma = [0.3, 0.4];
        using var generator = new Generator(seed);
        double[] noise = new double[8];
        for (int k = 0; k < n; k++)
        {
            double[] e = D(randn([2, 4], ScalarType.Float64, generator: generator));
            randint(1, [2], dtype: ScalarType.Int64, generator: generator);
            rand([2, 1], ScalarType.Float64, generator: generator);
            for (int j = 0; j < 8; j++)
            {
                noise[j] += e[j] * sigma[j / 4] / n;
            }
        }
        double[] expected = Input.Select((v, j) => (v + noise[j]) * Weight[0, j % 4]).ToArray();
        var shap = new GradientShap(Support.Linear(Weight, Bias), baselines: zeros(1, dtype: ScalarType.Float64), samples: n, noiseLevel: 0.1, seed: seed);
        using AttributionResult result = shap.Attribute(T(Input, 2, 4), AttributionTarget.Class(0));
        AssertClose(expected, result.Relevance, 1e-13);
        Assert.True(noise.Any(e => Math.Abs(e) > 1e-3), "no noise was drawn");
    }

    [Fact]
    public void UniformBaselinesLieInEachSamplesRange()
    {
        // With uniform baselines and a linear model, (x - b) * W with b uniform in [min x, max x]: for HalfSquare from
        // many samples, E[(x - b)(b + alpha (x - b))] = (x^2 - E[b^2]) / 2 with E[b^2] = (lo^2 + lo hi + hi^2) / 3; for
        // the row [1, -2, 0.5, 0], lo = -2, hi = 1: E[b^2] = (4 - 2 + 1) / 3 = 1.
        using var scope = NewDisposeScope();
        var shap = new GradientShap(PowerSum.HalfSquare(), samples: 20000, noiseLevel: 0, seed: 6);
        using AttributionResult result = shap.Attribute(T(Input[..4], 1, 4), AttributionTarget.Class(0));
        double[] expected = Input[..4].Select(v => (v * v - 1.0) / 2).ToArray();
        AssertClose(expected, result.Relevance, 0.05);
    }

    [Fact]
    public void TheRegistryNamesItsBaselines()
    {
        Assert.Equal("gradient_shap(iterations=20,noise_level=0.1,baselines=uniform,seed=0)", AttributionSpec.Parse("gradientshap").Canonical());
        var ex = Assert.Throws<ArgumentException>(() => AttributionSpec.Parse("gradient_shap(baselines=blur)").CreateAttributor(PowerSum.HalfSquare()));
        Assert.Contains("baselines must be uniform or zeros", ex.Message);
    }
}
