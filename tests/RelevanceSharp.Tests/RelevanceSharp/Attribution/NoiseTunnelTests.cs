using RelevanceSharp.Attribution;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Attribution;

public class NoiseTunnelTests
{

    private static readonly double[] Values2x4 = [0.0, 0.5, -0.5, 1.0, 2.0, -1.0, 0.0, 1.0];

    [Fact]
    public void WithoutNoiseSmoothGradSquaredIsTheSquaredGradientAndVarGradZero()
    {
        // g = x for HalfSquare: SG^2 = x^2 = [0, 0.25, 0.25, 1, 4, 1, 0, 1]; every sample equal, so the variance is 0.
        using var scope = NewDisposeScope();
        using AttributionResult squared = new SmoothGradSquared(PowerSum.HalfSquare(), noiseLevel: 0, iterations: 3).Attribute(T(Values2x4, 2, 4), AttributionTarget.Class(0));
        AssertClose([0, 0.25, 0.25, 1, 4, 1, 0, 1], squared.Relevance, 1e-15);
        using AttributionResult variance = new VarGrad(PowerSum.HalfSquare(), noiseLevel: 0, iterations: 3).Attribute(T(Values2x4, 2, 4), AttributionTarget.Class(0));
        AssertClose(new double[8], variance.Relevance, 1e-15);
    }

    [Fact]
    public void EverySampleIsNoisyAndTheMomentsAreCaptums()
    {
        // The noise of sample k is randn(shape) * sigma from a generator seeded with the seed, sigma = 0.2 * (max - min) of
        // each row: 0.2 * 1.5 = 0.3 and 0.2 * 3 = 0.6. With g_k = x + e_k, SG^2 = mean_k g_k^2 and
        // VarGrad = mean_k g_k^2 - (mean_k g_k)^2 (Captum's vargrad), all three samples noisy (none left clean, unlike SmoothGrad).
        using var scope = NewDisposeScope();
        Tensor x = T(Values2x4, 2, 4);
        const int n = 3;
        const long seed = 11;
        double[] sigma = [0.3, 0.6];
        using var generator = new Generator(seed);
        var samples = Enumerable.Range(0, n).Select(_ => D(randn([2, 4], ScalarType.Float64, generator: generator))).ToList();
        double[] mean = new double[8], squares = new double[8];
        for (int j = 0; j < 8; j++)
        {
            double[] g = samples.Select(e => Values2x4[j] + e[j] * sigma[j / 4]).ToArray();
            mean[j] = g.Average();
            squares[j] = g.Average(v => v * v);
        }
        using AttributionResult squared = new SmoothGradSquared(PowerSum.HalfSquare(), noiseLevel: 0.2, iterations: n, seed: seed).Attribute(x, AttributionTarget.Class(0));
        AssertClose(squares, squared.Relevance, 1e-12);
        using AttributionResult variance = new VarGrad(PowerSum.HalfSquare(), noiseLevel: 0.2, iterations: n, seed: seed).Attribute(x, AttributionTarget.Class(0));
        AssertClose(squares.Zip(mean, (s, m) => s - m * m).ToArray(), variance.Relevance, 1e-12);
        // The output is that of the input itself: sum(x^2) / 2 = (0 + 0.25 + 0.25 + 1) / 2 = 0.75 and (4 + 1 + 0 + 1) / 2 = 3.
        AssertClose([0.75, 3.0], squared.Output, 1e-15);
    }

    [Fact]
    public void VarGradEstimatesTheNoiseVariance()
    {
        // For HalfSquare the gradient's variance is the noise's: sigma^2 = (0.2 * 1.5)^2 = 0.09 for the row [0, 0.5, -0.5, 1].
        // Captum's population variance over n samples has expectation sigma^2 (n - 1) / n; its standard error per element
        // is about sigma^2 sqrt(2 / n), over the row's 4 elements half that.
        using var scope = NewDisposeScope();
        const int n = 4000;
        using AttributionResult variance = new VarGrad(PowerSum.HalfSquare(), noiseLevel: 0.2, iterations: n, seed: 5).Attribute(T(Values2x4[..4], 1, 4), AttributionTarget.Class(0));
        double mean = D(variance.Relevance).Average();
        double expected = 0.09 * (n - 1) / n, error = 0.09 * Math.Sqrt(2.0 / n) / 2;
        Assert.True(Math.Abs(mean - expected) < 5 * error, $"mean variance {mean}, expected {expected} +- {5 * error}");
    }

    [Fact]
    public void AtLayersTheSameMomentsAreTaken()
    {
        // Without noise every sample is the plain gradient: at HandConvNet's ReLU the gradient of class 1 is the linear row,
        // [1, 2, 0, -1, 0.5, 0.5, -1, 1], whose square is the mean of squares and whose variance is zero.
        using var scope = NewDisposeScope();
        using AttributionResult squared = new SmoothGradSquared(HandConvNet.Create(), noiseLevel: 0, iterations: 2).Attribute(HandConvNet.Input(), AttributionTarget.Class(1), ["1"]);
        AssertClose([1, 4, 0, 1, 0.25, 0.25, 1, 1], squared.Layers["1"], 1e-15);
        using AttributionResult variance = new VarGrad(HandConvNet.Create(), noiseLevel: 0, iterations: 2).Attribute(HandConvNet.Input(), AttributionTarget.Class(1), ["1"]);
        AssertClose(new double[8], variance.Layers["1"], 1e-15);
    }
}
