using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Rules.RuleFixtures;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

public class ZBoxTests
{
    [Theory]
    [InlineData(-1.0, 1.0, 1e-6)]
    [InlineData(-3.0, 0.5, 0.2)]
    public void ScalarBoundsOnDense(double low, double high, double stabilizer)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Dense(), new ZBox(low, high, stabilizer), DenseX(), DenseR());
        double[] lows = Enumerable.Repeat(low, 5).ToArray(), highs = Enumerable.Repeat(high, 5).ToArray();
        double[] expected = Hand.PerSample(DenseBatch, DenseInput, DenseSeed,
            (x, r, _) => Hand.ZBox(DenseMap(), x, lows, highs, r, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void ScalarBoundsOnConvolution()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(), new ZBox(-2.0, 2.0), ConvX(), ConvR());
        double[] lows = Enumerable.Repeat(-2.0, 50).ToArray(), highs = Enumerable.Repeat(2.0, 50).ToArray();
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed,
            (x, r, _) => Hand.ZBox(ConvMap(), x, lows, highs, r, Hand.Stab(1e-6)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void PerChannelBoundsBroadcastOverThePixels()
    {
        using var scope = NewDisposeScope();
        double[] channelLow = { -2.5, -1.0 }, channelHigh = { 2.0, 3.0 };
        var rule = new ZBox(T(channelLow, 1, 2, 1, 1), T(channelHigh, 1, 2, 1, 1));
        Tensor relevance = RuleRelevance(Conv(), rule, ConvX(), ConvR());
        double[] lows = Enumerable.Range(0, 50).Select(i => channelLow[i / 25]).ToArray();
        double[] highs = Enumerable.Range(0, 50).Select(i => channelHigh[i / 25]).ToArray();
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed,
            (x, r, _) => Hand.ZBox(ConvMap(), x, lows, highs, r, Hand.Stab(1e-6)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void BoundsWithALargerBatchAreCutToTheInputBatch()
    {
        using var scope = NewDisposeScope();
        // Full bounds for a batch of 3, elementwise different; the input has a batch of 2, so samples 0 and 1 use
        // the first two rows of the bounds.
        double[] low = Values(150, 21).Select(v => v - 2.0).ToArray();
        double[] high = Values(150, 22).Select(v => v + 2.0).ToArray();
        var rule = new ZBox(T(low, 3, 2, 5, 5), T(high, 3, 2, 5, 5));
        Tensor relevance = RuleRelevance(Conv(), rule, ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed,
            (x, r, n) => Hand.ZBox(ConvMap(), x, low[(n * 50)..((n + 1) * 50)], high[(n * 50)..((n + 1) * 50)], r, Hand.Stab(1e-6)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void BoundsThatDoNotFitTheInputAreReported()
    {
        using var scope = NewDisposeScope();
        var rule = new ZBox(T(new[] { -1.0, -1.0, -1.0 }, 1, 3, 1, 1), T(new[] { 1.0, 1.0, 1.0 }, 1, 3, 1, 1));
        Exception ex = Assert.ThrowsAny<Exception>(() => RuleRelevance(Conv(), rule, ConvX(), ConvR()));
        Assert.Contains("[1, 3, 1, 1]", ex.Message, StringComparison.Ordinal);
    }
}
