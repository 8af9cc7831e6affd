using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

/// <summary>AttnLRP's softmax and layer-norm rules against their formulas, written out with loops over plain arrays.</summary>
public class TransformerRuleTests
{
    private static double Stabilized(double y) => y + (y >= 0 ? 1e-9 : -1e-9);

    [Fact]
    public void SoftmaxRuleIsInputTimesTheSoftmaxGradient()
    {
        using var scope = NewDisposeScope();
        double[] x = Values(8, 31).Select(v => 3 * v).ToArray(), r = Values(8, 32);
        Tensor relevance = RuleRelevance(nn.Softmax(1), new SoftmaxRule(), T(x, 2, 4), T(r, 2, 4));
        var expected = new double[8];
        for (int row = 0; row < 2; row++)
        {
            double[] e = Enumerable.Range(0, 4).Select(i => Math.Exp(x[row * 4 + i])).ToArray();
            double[] s = e.Select(v => v / e.Sum()).ToArray();
            double total = Enumerable.Range(0, 4).Sum(i => r[row * 4 + i]);
            for (int i = 0; i < 4; i++)
            {
                expected[row * 4 + i] = x[row * 4 + i] * (r[row * 4 + i] - s[i] * total);
            }
        }
        AssertClose(expected, relevance, 1e-12);
    }

    [Fact]
    public void SoftmaxRuleGivesMaskedEntriesNothingInsteadOfNaN()
    {
        using var scope = NewDisposeScope();
        double[] x = { 0.5, double.NegativeInfinity, -1.0, 2.0 };
        double[] r = { 0.3, 0.0, -0.2, 0.7 };
        Tensor relevance = RuleRelevance(nn.Softmax(0), new SoftmaxRule(), T(x, 4), T(r, 4));
        double[] values = D(relevance);
        Assert.All(values, v => Assert.True(double.IsFinite(v)));
        Assert.Equal(0.0, values[1]);
        double[] e = { Math.Exp(0.5), 0.0, Math.Exp(-1.0), Math.Exp(2.0) };
        double sum = e.Sum();
        double total = r.Sum();
        Assert.Equal(0.5 * (0.3 - e[0] / sum * total), values[0], 12);
    }

    [Fact]
    public void SoftmaxRuleRefusesOtherModules()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<NotSupportedException>(() => RuleRelevance(nn.ReLU(), new SoftmaxRule(), T(Values(4, 1), 4), T(Values(4, 2), 4)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LayerNormRuleHoldsTheStandardDeviationConstant(bool affine)
    {
        using var scope = NewDisposeScope();
        const int rows = 3, width = 5;
        const double eps = 1e-5;
        double[] x = Values(rows * width, 41).Select(v => 2 * v + 0.3).ToArray(), r = Values(rows * width, 42);
        double[] w = affine ? Values(width, 43).Select(v => 1 + 0.5 * v).ToArray() : Enumerable.Repeat(1.0, width).ToArray();
        double[] b = affine ? Values(width, 44).Select(v => 0.2 * v).ToArray() : new double[width];
        var norm = nn.LayerNorm(width, eps: eps, elementwise_affine: affine, dtype: ScalarType.Float64);
        if (affine)
        {
            using (no_grad())
            {
                norm.weight!.copy_(T(w));
                norm.bias!.copy_(T(b));
            }
        }
        Tensor relevance = RuleRelevance(norm, new LayerNormRule(), T(x, rows, width), T(r, rows, width));

        var expected = new double[rows * width];
        double conserved = 0;
        for (int row = 0; row < rows; row++)
        {
            double[] xs = x.Skip(row * width).Take(width).ToArray();
            double mean = xs.Average();
            double sigma = Math.Sqrt(xs.Select(v => (v - mean) * (v - mean)).Average() + eps);
            double[] y = xs.Select((v, i) => w[i] * (v - mean) / sigma + b[i]).ToArray();
            double[] u = y.Select((v, i) => r[row * width + i] / Stabilized(v)).ToArray();
            // R_i = x_i * sum_j (dy_j/dx_i) u_j with dy_j/dx_i = w_j (delta_ij - 1/n) / sigma.
            for (int i = 0; i < width; i++)
            {
                double g = 0;
                for (int j = 0; j < width; j++)
                {
                    g += w[j] * ((i == j ? 1.0 : 0.0) - 1.0 / width) / sigma * u[j];
                }
                expected[row * width + i] = xs[i] * g;
            }
            // What leaves the layer: what arrives, less the bias's share.
            conserved += Enumerable.Range(0, width).Sum(j => (y[j] - b[j]) * u[j]);
        }
        AssertClose(expected, relevance, 1e-10);
        Assert.Equal(conserved, D(relevance).Sum(), 1e-9);
    }
}
