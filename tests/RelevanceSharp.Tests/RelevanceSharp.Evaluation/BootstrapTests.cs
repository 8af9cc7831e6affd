using RelevanceSharp.Evaluation;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>The percentile bootstrap against its generator's published values, written-out resamples and the exact bootstrap distribution.</summary>
public class BootstrapTests
{
    [Fact]
    public void TheGeneratorGivesSplitMix64sPublishedOutputs()
    {
        // The reference outputs of SplitMix64 seeded with 1234567, as published with the algorithm.
        var random = new SplitMix64(1234567);
        Assert.Equal(6457827717110365317UL, random.Next());
        Assert.Equal(3203168211198807973UL, random.Next());
        Assert.Equal(9817491932198370423UL, random.Next());
    }

    [Fact]
    public void TwoResamplesGiveTheIntervalOfTheirTwoMeans()
    {
        // SplitMix64 seeded with 42 maps onto 0..4 (floor(u * 5 / 2^64)) as 3, 0, 1, 1, 0 | 4, 1, 4, 1, 3 (worked out
        // with an independent implementation). The resamples are 40, 10, 20, 20, 10 (mean 20) and 50, 20, 50, 20, 40
        // (mean 36); with B = 2 the 2.5% and 97.5% quantiles are m_(ceil(0.05)) = m_(1) and m_(ceil(1.95)) = m_(2).
        double[] values = { 10, 20, 30, 40, 50 };
        ConfidenceInterval interval = Bootstrap.MeanInterval(values, resamples: 2, seed: 42);
        Assert.Equal(20.0, interval.Low, 12);
        Assert.Equal(36.0, interval.High, 12);
        Assert.Equal(0.95, interval.Level);
    }

    [Fact]
    public void ManyResamplesFindTheQuantilesOfTheEnumeratedBootstrapDistribution()
    {
        // All 4^4 = 256 index tuples of a sample of 4 are equally likely; their means form the exact bootstrap
        // distribution. Its 2.5% quantile is 1.5 (distribution function 0.0195 below it, 0.0430 at it) and its
        // 97.5% quantile 6.5 (0.9648 below, 0.9805 at), each more than 5 standard errors of a 50,000-resample
        // estimate away from the level, so the seeded bootstrap must land on exactly these two means.
        double[] values = { 1, 2, 4, 8 };
        var means = new List<double>();
        for (int tuple = 0; tuple < 256; tuple++)
        {
            means.Add((values[tuple & 3] + values[(tuple >> 2) & 3] + values[(tuple >> 4) & 3] + values[(tuple >> 6) & 3]) / 4);
        }
        means.Sort();
        double low = means[(int)Math.Ceiling(256 * 0.025) - 1], high = means[(int)Math.Ceiling(256 * 0.975) - 1];
        Assert.Equal((1.5, 6.5), (low, high));
        Assert.True(means.Count(m => m < low) / 256.0 < 0.025 - 0.005 && means.Count(m => m <= low) / 256.0 > 0.025 + 0.005);
        Assert.True(means.Count(m => m < high) / 256.0 < 0.975 - 0.005 && means.Count(m => m <= high) / 256.0 > 0.975 + 0.005);

        ConfidenceInterval interval = Bootstrap.MeanInterval(values, resamples: 50_000, seed: 3);
        Assert.Equal(low, interval.Low, 12);
        Assert.Equal(high, interval.High, 12);
    }

    [Fact]
    public void TheSeedFixesTheInterval()
    {
        double[] values = Enumerable.Range(0, 40).Select(i => Math.Sin(i * 1.7) * 3 + 0.2 * i).ToArray();
        ConfidenceInterval first = Bootstrap.MeanInterval(values, resamples: 500, seed: 1);
        Assert.Equal(first, Bootstrap.MeanInterval(values, resamples: 500, seed: 1));
        Assert.NotEqual(first, Bootstrap.MeanInterval(values, resamples: 500, seed: 2));
        Assert.True(first.Contains(values.Average()));
        // A wider level gives a wider interval from the same resamples.
        ConfidenceInterval wide = Bootstrap.MeanInterval(values, resamples: 500, level: 0.99, seed: 1);
        Assert.True(wide.Low <= first.Low && wide.High >= first.High && wide.High - wide.Low > first.High - first.Low);
    }

    [Fact]
    public void BadSamplesAndSettingsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => Bootstrap.MeanInterval(Array.Empty<double>()));
        Assert.Throws<ArgumentException>(() => Bootstrap.MeanInterval(new[] { 1.0, double.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.MeanInterval(new[] { 1.0 }, resamples: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.MeanInterval(new[] { 1.0 }, level: 1.0));
    }
}
