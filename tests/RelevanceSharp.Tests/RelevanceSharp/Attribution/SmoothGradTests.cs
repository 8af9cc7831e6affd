using RelevanceSharp.Attribution;
using RelevanceSharp.Tests.Engine;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Attribution;

public class SmoothGradTests
{
    private static double[] PlainGradient(nn.Module<Tensor, Tensor> model, Tensor x, long target)
    {
        using var grad = enable_grad();
        Tensor input = x.clone().requires_grad_(true);
        Tensor output = model.call(input);
        Tensor seed = zeros_like(output);
        seed[TensorIndex.Colon, target] = 1.0;
        return D(autograd.grad(new[] { output }, new[] { input }, new[] { seed })[0]);
    }

    [Fact]
    public void OneIterationIsThePlainGradient()
    {
        using var scope = NewDisposeScope();
        var model = TestNets.ConvReLUNet(81);
        Tensor x = TestNets.Input(82);
        using AttributionResult result = new SmoothGrad(model, noiseLevel: 0.5, iterations: 1).Attribute(x, AttributionTarget.Class(2));
        AssertClose(PlainGradient(model, x, 2), result.Relevance, 0.0);
    }

    [Fact]
    public void ASeedMakesTheNoiseReproducible()
    {
        using var scope = NewDisposeScope();
        var model = TestNets.ConvReLUNet(83);
        Tensor x = TestNets.Input(84);
        double[] Run(long? seed)
        {
            using AttributionResult result = new SmoothGrad(model, noiseLevel: 0.3, iterations: 6, seed: seed).Attribute(x, AttributionTarget.Class(0));
            return D(result.Relevance);
        }
        double[] first = Run(7), second = Run(7), other = Run(8);
        AssertClose(first, second, 0.0, "same seed");
        Assert.True(first.Zip(other, (a, b) => Math.Abs(a - b)).Max() > 1e-6, "another seed gave the same noise");
        Assert.True(first.Zip(PlainGradient(model, x, 0), (a, b) => Math.Abs(a - b)).Max() > 1e-6, "no noise was added");
    }

    [Fact]
    public void NoiseStandardDeviationIsTheNoiseLevelTimesEachSamplesRange()
    {
        // E[(x + n)^2] = x^2 + sigma^2: averaged over N iterations of which the last has no noise, the mean excess
        // over x^2 is sigma^2 (N - 1) / N, with sigma = noiseLevel * (max - min) of the sample.
        using var scope = NewDisposeScope();
        double[] values = { 0.0, 0.5, -0.5, 1.0, 0.2, 0.1, 0.0, 2.0, -2.0, 1.0, 0.0, 0.3 };
        Tensor x = T(values, 2, 6);
        const int N = 2000;
        const double level = 0.1;
        using AttributionResult result = new SmoothGrad(PowerSum.CubeSum(), noiseLevel: level, iterations: N, seed: 3).Attribute(x, AttributionTarget.Class(0));
        double[] r = D(result.Relevance);
        for (int n = 0; n < 2; n++)
        {
            double[] sample = values[(n * 6)..((n + 1) * 6)];
            double sigma = level * (sample.Max() - sample.Min());
            double excess = Enumerable.Range(0, 6).Average(k => r[n * 6 + k] - sample[k] * sample[k]);
            double expected = sigma * sigma * (N - 1) / N;
            // Standard error of the mean excess over 6 * N draws, at most sqrt((4 x^2 sigma^2 + 2 sigma^4) / (6 N)).
            double maxX = sample.Max(Math.Abs);
            double error = Math.Sqrt((4 * maxX * maxX * sigma * sigma + 2 * Math.Pow(sigma, 4)) / (6.0 * N));
            Assert.True(Math.Abs(excess - expected) < 5 * error,
                $"sample {n}: mean excess {excess:E4}, expected {expected:E4} +- {5 * error:E2} (sigma {sigma})");
        }
    }
}
