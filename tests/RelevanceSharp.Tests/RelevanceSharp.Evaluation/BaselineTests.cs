using RelevanceSharp.Evaluation;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>What each perturbation baseline replaces an image with.</summary>
public class BaselineTests
{
    private static Tensor Images() => T(Values(2 * 3 * 6 * 5, 11), 2, 3, 6, 5);

    [Fact]
    public void ZerosAreZeros()
    {
        using var scope = NewDisposeScope();
        Tensor images = Images();
        Tensor result = PerturbationBaseline.Zeros.Create(images);
        Assert.Equal(images.shape, result.shape);
        Assert.All(D(result), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void MeanIsEachImagesChannelMean()
    {
        using var scope = NewDisposeScope();
        Tensor images = Images();
        double[] values = D(images);
        double[] result = D(PerturbationBaseline.Mean.Create(images));
        int plane = 6 * 5;
        for (int c = 0; c < 2 * 3; c++)
        {
            double mean = values.Skip(c * plane).Take(plane).Average();
            for (int p = 0; p < plane; p++)
            {
                Assert.Equal(mean, result[c * plane + p], 12);
            }
        }
    }

    [Fact]
    public void BlurOfAConstantImageIsTheConstant()
    {
        using var scope = NewDisposeScope();
        Tensor images = full(new long[] { 2, 3, 7, 9 }, Scalars.Of(0.625), ScalarType.Float64);
        images[1] = full(new long[] { 3, 7, 9 }, Scalars.Of(-1.5), ScalarType.Float64);
        foreach (double sigma in new[] { 0.5, 1.0, 3.0 })
        {
            Tensor blurred = PerturbationBaseline.Blur(sigma).Create(images);
            Assert.Equal(images.shape, blurred.shape);
            AssertClose(D(images), blurred, 1e-12, $"blur(sigma={sigma})");
        }
    }

    [Fact]
    public void BlurSpreadsAnImpulseAsANormalizedGaussian()
    {
        using var scope = NewDisposeScope();
        // One bright pixel far from the border: the result is the kernel itself, which sums to 1 and falls off as
        // exp(-d^2 / (2 sigma^2)) with the distance d from the centre.
        const double Sigma = 1.0;
        Tensor image = zeros(new long[] { 1, 2, 15, 15 }, ScalarType.Float64);
        image[0, 1, 7, 7] = 1.0;
        Tensor blurred = PerturbationBaseline.Blur(Sigma).Create(image);
        Assert.Equal(0.0, blurred[0, 0].abs().max().item<double>());
        Assert.Equal(1.0, blurred[0, 1].sum().item<double>(), 12);
        double centre = blurred[0, 1, 7, 7].item<double>();
        Assert.Equal(Math.Exp(-1.0 / (2 * Sigma * Sigma)), blurred[0, 1, 7, 8].item<double>() / centre, 12);
        Assert.Equal(Math.Exp(-8.0 / (2 * Sigma * Sigma)), blurred[0, 1, 9, 9].item<double>() / centre, 12);
        Assert.Equal(0.0, blurred[0, 1, 7, 11].item<double>());
    }

    [Fact]
    public void NoiseStaysInTheImagesRangeAndFollowsTheSeed()
    {
        using var scope = NewDisposeScope();
        Tensor images = Images();
        images[1] = images[1].mul(Scalars.Of(10)).add(Scalars.Of(3), Scalars.One);
        Tensor noise = PerturbationBaseline.UniformNoise(5).Create(images);
        for (int i = 0; i < 2; i++)
        {
            double low = images[i].min().item<double>(), high = images[i].max().item<double>();
            double[] values = D(noise[i]);
            Assert.All(values, v => Assert.InRange(v, low, high));
            // Uniform noise covers the range: its extremes come close to the image's.
            Assert.True(values.Max() - values.Min() > 0.8 * (high - low), "the noise should fill the image's range");
        }
        Assert.Equal(D(noise), D(PerturbationBaseline.UniformNoise(5).Create(images)));
        Assert.NotEqual(D(noise), D(PerturbationBaseline.UniformNoise(6).Create(images)));
        // Image i's noise depends on its index in the whole set, not on the batch it comes in.
        Assert.Equal(D(noise[1]), D(PerturbationBaseline.UniformNoise(5).Create(images.narrow(0, 1, 1), firstIndex: 1)[0]));
    }

    [Fact]
    public void BaselinesAreFoundByName()
    {
        Assert.Same(PerturbationBaseline.Zeros, PerturbationBaseline.Parse("zeros"));
        Assert.Same(PerturbationBaseline.Mean, PerturbationBaseline.Parse("Mean"));
        Assert.Equal("blur(sigma=1.5)", PerturbationBaseline.Parse("blur", sigma: 1.5).Name);
        Assert.Equal("noise(seed=3)", PerturbationBaseline.Parse("noise", seed: 3).Name);
        var ex = Assert.Throws<ArgumentException>(() => PerturbationBaseline.Parse("black"));
        Assert.Contains("zeros, mean, blur, noise", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => PerturbationBaseline.Blur(0));
    }
}
