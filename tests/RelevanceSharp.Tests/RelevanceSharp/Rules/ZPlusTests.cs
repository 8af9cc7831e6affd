using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Rules.RuleFixtures;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

public class ZPlusTests
{
    [Theory]
    [InlineData(1e-6)]
    [InlineData(0.3)]
    public void DenseMatchesTheFormula(double stabilizer)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Dense(), new ZPlus(stabilizer), DenseX(), DenseR());
        double[] expected = Hand.PerSample(DenseBatch, DenseInput, DenseSeed, (x, r, _) => Hand.ZPlus(DenseMap(), x, r, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }

    [Theory]
    [InlineData(1e-6)]
    [InlineData(0.3)]
    public void ConvolutionMatchesTheFormula(double stabilizer)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(), new ZPlus(stabilizer), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed, (x, r, _) => Hand.ZPlus(ConvMap(), x, r, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void ZeroedBiasIsLeftOutOfTheDenominator()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(), new ZPlus(0.3, zeroParameters: new[] { "bias" }), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed, (x, r, _) => Hand.ZPlus(ConvMap(bias: false), x, r, Hand.Stab(0.3)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void NonNegativeInputsAndPositiveRelevanceGiveNonNegativeRelevance()
    {
        using var scope = NewDisposeScope();
        // The defining property of z+: with x >= 0 only positive weights carry relevance, so nothing turns negative.
        Tensor x = ConvX().abs();
        Tensor r = ConvR().abs();
        Tensor relevance = RuleRelevance(Conv(), new ZPlus(), x, r);
        Assert.True(D(relevance).All(v => v >= 0), "z+ produced negative relevance from non-negative inputs.");
        double[] expected = Hand.PerSample(ConvBatch, D(x), D(r), (xs, rs, _) => Hand.ZPlus(ConvMap(), xs, rs, Hand.Stab(1e-6)));
        AssertClose(expected, relevance);
    }
}
