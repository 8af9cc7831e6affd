using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Rules.RuleFixtures;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

public class GammaTests
{
    [Theory]
    [InlineData(0.25, 1e-6)]
    [InlineData(1.0, 0.2)]
    [InlineData(0.0, 1e-6)]
    public void DenseMatchesTheGeneralizedFormula(double gamma, double stabilizer)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Dense(), new Gamma(gamma, stabilizer), DenseX(), DenseR());
        double[] expected = Hand.PerSample(DenseBatch, DenseInput, DenseSeed,
            (x, r, _) => Hand.Gamma(DenseMap(), x, r, gamma, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }

    [Theory]
    [InlineData(0.25, 1e-6)]
    [InlineData(2.0, 0.1)]
    public void ConvolutionMatchesTheGeneralizedFormula(double gamma, double stabilizer)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(), new Gamma(gamma, stabilizer), ConvX(), ConvR());
        double[] expected = Hand.PerSample(ConvBatch, ConvInput, ConvSeed,
            (x, r, _) => Hand.Gamma(ConvMap(), x, r, gamma, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }

    [Fact]
    public void FixtureHasOutputsOfEverySign()
    {
        // The formula tests above only mean something if both branches (and the zero case) occur.
        double[] z0 = DenseMap().Forward(DenseInput[..5]);
        double[] z1 = DenseMap().Forward(DenseInput[5..]);
        double[] all = z0.Concat(z1).ToArray();
        Assert.Contains(all, z => z > 0);
        Assert.Contains(all, z => z < 0);
        Assert.Contains(all, z => z == 0);
    }

    [Fact]
    public void OutputWithZeroValueSendsNoRelevance()
    {
        using var scope = NewDisposeScope();
        // Only output 2 of sample 1 (exactly zero) carries relevance: nothing may arrive at the input.
        double[] seed = new double[8];
        seed[6] = 5.0;
        Tensor relevance = RuleRelevance(Dense(), new Gamma(0.25), DenseX(), T(seed, 2, 4));
        AssertClose(new double[10], relevance);
    }

    [Fact]
    public void BiasIsModifiedLikeTheWeights()
    {
        using var scope = NewDisposeScope();
        // With a large positive bias and gamma 1 the bias term b + gamma*b+ = 2b dominates the denominator of a
        // positive output; check one output in isolation against the closed form.
        double[,] weight = { { 1.0, -2.0 } };
        double[] bias = { 3.0 };
        double[] x = { 1.0, -0.5 };
        // z = 1 + 1 + 3 = 5 > 0. x+ = (1, 0) through w + w+ = (2, -2); x- = (0, -0.5) through w + w- = (1, -4).
        // Contributions: input 0: 2 * 1 = 2; input 1: -4 * -0.5 = 2; bias: 3 + 3 = 6. Denominator 10.
        Tensor relevance = RuleRelevance(Linear(weight, bias), new Gamma(1.0, 0.0), T(x, 1, 2), T(new[] { 1.0 }, 1, 1));
        AssertClose(new[] { 0.2, 0.2 }, relevance);
    }
}
