using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Rules.RuleFixtures;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

public class FlatAndWSquareTests
{
    [Fact]
    public void FlatOnDenseSharesEqually()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Dense(), new Flat(), DenseX(), DenseR());
        // Every output is connected to all 5 inputs: each input gets sum_j R_j / 5.
        double[] expected = Hand.PerSample(DenseBatch, DenseInput, DenseSeed, (_, r, _) => Hand.Flat(DenseMap(), r, Hand.Stab(1e-6)));
        AssertClose(expected, relevance);
        Assert.Equal(DenseSeed[..4].Sum() / (5 + 1e-6), D(relevance)[0], 12);
    }

    [Theory]
    [InlineData(1e-6)]
    [InlineData(0.5)]
    public void FlatOnConvolutionCountsOnlyConnectionsInsideTheImage(double stabilizer)
    {
        using var scope = NewDisposeScope();
        // Border outputs of a padded convolution have fewer than 2*3*3 inputs: the padding zeros carry nothing.
        Tensor relevance = RuleRelevance(Conv(), new Flat(stabilizer), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed, (_, r, _) => Hand.Flat(ConvMap(), r, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void WSquareOnDense()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Dense(), new WSquare(), DenseX(), DenseR());
        double[] expected = Hand.PerSample(DenseBatch, DenseInput, DenseSeed, (_, r, _) => Hand.WSquare(DenseMap(), r, Hand.Stab(1e-6)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void WSquareOnConvolutionWithoutBias()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(), new WSquare(0.1, zeroParameters: new[] { "bias" }), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed, (_, r, _) => Hand.WSquare(ConvMap(bias: false), r, Hand.Stab(0.1)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void WSquareOnConvolutionSquaresTheBiasToo()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(), new WSquare(), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed, (_, r, _) => Hand.WSquare(ConvMap(), r, Hand.Stab(1e-6)));
        AssertClose(expected, relevance);
    }
}
