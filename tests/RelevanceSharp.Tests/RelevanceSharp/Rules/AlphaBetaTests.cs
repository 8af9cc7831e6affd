using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Rules.RuleFixtures;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

public class AlphaBetaTests
{
    [Theory]
    [InlineData(2.0, 1.0, 1e-6)]
    [InlineData(1.0, 0.0, 1e-6)]
    [InlineData(3.0, 2.0, 0.2)]
    public void DenseMatchesTheFormula(double alpha, double beta, double stabilizer)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Dense(), new AlphaBeta(alpha, beta, stabilizer), DenseX(), DenseR());
        double[] expected = Hand.PerSample(DenseBatch, DenseInput, DenseSeed,
            (x, r, _) => Hand.AlphaBeta(DenseMap(), x, r, alpha, beta, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }

    [Theory]
    [InlineData(2.0, 1.0, 1e-6)]
    [InlineData(3.0, 2.0, 0.2)]
    public void ConvolutionMatchesTheFormula(double alpha, double beta, double stabilizer)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(), new AlphaBeta(alpha, beta, stabilizer), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed,
            (x, r, _) => Hand.AlphaBeta(ConvMap(), x, r, alpha, beta, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }

    [Theory]
    [InlineData(2.0, 2.0, "alpha - beta = 1")]
    [InlineData(0.5, -0.5, "non-negative")]
    [InlineData(-1.0, -2.0, "non-negative")]
    [InlineData(double.NaN, 1.0, "non-negative")]
    public void InvalidAlphaOrBetaIsRefusedByName(double alpha, double beta, string expectedPhrase)
    {
        Exception ex = Assert.ThrowsAny<ArgumentException>(() => new AlphaBeta(alpha, beta));
        Assert.Contains(expectedPhrase, ex.Message, StringComparison.Ordinal);
        Assert.Contains("alpha", ex.Message, StringComparison.Ordinal);
        Assert.Contains("beta", ex.Message, StringComparison.Ordinal);
    }
}
