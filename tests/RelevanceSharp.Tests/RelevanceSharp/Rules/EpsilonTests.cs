using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Rules.RuleFixtures;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

public class EpsilonTests
{
    [Theory]
    [InlineData(1e-6)]
    [InlineData(0.1)]
    [InlineData(1.5)]
    public void DenseMatchesTheFormula(double epsilon)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Dense(), new Epsilon(epsilon), DenseX(), DenseR());
        double[] expected = Hand.PerSample(DenseBatch, DenseInput, DenseSeed,
            (x, r, _) => Hand.Epsilon(DenseMap(), x, r, Hand.Stab(epsilon)));
        AssertClose(expected, relevance);
    }

    [Theory]
    [InlineData(1e-6)]
    [InlineData(0.25)]
    public void ConvolutionMatchesTheFormula(double epsilon)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(), new Epsilon(epsilon), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed,
            (x, r, _) => Hand.Epsilon(ConvMap(), x, r, Hand.Stab(epsilon)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void EpsilonZeroIsLrp0OnDense()
    {
        using var scope = NewDisposeScope();
        // Sample 0 only: no output is exactly zero, so LRP-0 divides by the plain outputs.
        Tensor relevance = RuleRelevance(Dense(), new Epsilon(0.0), DenseX().narrow(0, 0, 1), DenseR().narrow(0, 0, 1));
        double[] expected = Hand.Epsilon(DenseMap(), DenseInput[..5], DenseSeed[..4], z => z);
        AssertClose(expected, relevance);
    }

    [Fact]
    public void EpsilonZeroIsLrp0OnConvolution()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(), new Epsilon(0.0), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed, (x, r, _) => Hand.Epsilon(ConvMap(), x, r, z => z));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void ZeroOutputIsStabilizedTowardsPlusEpsilon()
    {
        using var scope = NewDisposeScope();
        // Sample 1, output 2 is exactly zero: its relevance 0.7 is divided by +epsilon, giving x0 * 1 * 0.7 / 0.5
        // to input 0 and x1 * (-1) * 0.7 / 0.5 to input 1 on top of the other outputs' shares.
        Tensor relevance = RuleRelevance(Dense(), new Epsilon(0.5), DenseX(), DenseR());
        double[] z = DenseMap().Forward(DenseInput[5..]);
        Assert.Equal(0.0, z[2]);
        double[] withoutOutput2 = Hand.Epsilon(DenseMap(), DenseInput[5..], DenseSeed[4..].Select((v, j) => j == 2 ? 0.0 : v).ToArray(), Hand.Stab(0.5));
        double[] actual = D(relevance)[5..];
        Assert.Equal(withoutOutput2[0] + 0.7 * 1.0 * 0.7 / 0.5, actual[0], 12);
        Assert.Equal(withoutOutput2[1] + 0.7 * -1.0 * 0.7 / 0.5, actual[1], 12);
    }

    [Fact]
    public void ZeroedBiasIsLeftOutOfTheDenominator()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Dense(), new Epsilon(0.1, zeroParameters: new[] { "bias" }), DenseX(), DenseR());
        double[] expected = Hand.PerSample(DenseBatch, DenseInput, DenseSeed,
            (x, r, _) => Hand.Epsilon(DenseMap(bias: false), x, r, Hand.Stab(0.1)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void LayerWithoutBiasWorks()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(bias: false), new Epsilon(0.1), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed,
            (x, r, _) => Hand.Epsilon(ConvMap(bias: false), x, r, Hand.Stab(0.1)));
        AssertClose(expected, relevance);
    }
}
