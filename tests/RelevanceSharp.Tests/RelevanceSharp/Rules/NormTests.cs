using RelevanceSharp.Layers;
using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

public class NormTests
{
    [Theory]
    [InlineData(2, 2, 1e-6)]
    [InlineData(2, 1, 0.1)]
    public void AvgPoolMatchesTheFormula(int kernel, int stride, double stabilizer)
    {
        using var scope = NewDisposeScope();
        const int batch = 2, channels = 2, size = 4;
        double[] x = Values(batch * channels * size * size, 31).Select((v, i) => i % 6 == 0 ? 0.0 : v).ToArray();
        int outSize = (size - kernel) / stride + 1;
        double[] seed = Values(batch * channels * outSize * outSize, 32);
        var pool = nn.AvgPool2d(kernel, stride);
        Tensor relevance = RuleRelevance(pool, new Norm(stabilizer), T(x, batch, channels, size, size), T(seed, batch, channels, outSize, outSize));
        var map = AffineMap.AvgPool2d(channels, size, size, kernel, stride);
        double[] expected = Hand.PerSample(batch, x, seed, (xs, rs, _) => Hand.Epsilon(map, xs, rs, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }

    [Theory]
    [InlineData(1e-6)]
    [InlineData(0.2)]
    public void SumMatchesTheFormula(double stabilizer)
    {
        using var scope = NewDisposeScope();
        // A residual sum of three summands (stacked on the last dimension) for a batch of 2 and 4 positions; position
        // 3 of sample 0 sums to exactly zero.
        double[] x =
        {
            1.0, -0.5, 0.25, 2.0, 0.0, -1.0, -0.3, -0.3, 0.1, 0.5, -0.25, -0.25,
            0.0, 0.0, 3.0, 1.5, -2.5, 0.5, -0.4, 0.9, 0.0, 0.2, 0.2, 0.2,
        };
        double[] seed = { 1.0, -2.0, 0.5, 0.7, 0.3, 1.1, -0.8, 0.25 };
        Tensor relevance = RuleRelevance(new Sum(), new Norm(stabilizer), T(x, 2, 4, 3), T(seed, 2, 4));
        var map = AffineMap.SumLast(4, 3);
        double[] expected = Hand.PerSample(2, x, seed, (xs, rs, _) => Hand.Epsilon(map, xs, rs, Hand.Stab(stabilizer)));
        AssertClose(expected, relevance);
    }
}
