using RelevanceSharp.Layers;
using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Layers;

/// <summary>The RMS norm against its formula, its state-dict key, and why Pass is its AttnLRP rule.</summary>
public class RMSNormTests
{
    private static RMSNorm Norm(double[] weight, double eps)
    {
        var norm = new RMSNorm(weight.Length, eps, ScalarType.Float64);
        using (no_grad())
        {
            norm.Weight.copy_(T(weight));
        }
        return norm;
    }

    [Fact]
    public void ComputesTheFormulaOverTheLastDimension()
    {
        using var scope = NewDisposeScope();
        double[] x = Values(8, 1), w = Values(4, 2).Select(v => 1 + v).ToArray();
        Tensor output = Norm(w, 1e-5).call(T(x, 2, 4));
        var expected = new double[8];
        for (int row = 0; row < 2; row++)
        {
            double meanSquare = Enumerable.Range(0, 4).Average(i => x[row * 4 + i] * x[row * 4 + i]);
            for (int i = 0; i < 4; i++)
            {
                expected[row * 4 + i] = w[i] * x[row * 4 + i] / Math.Sqrt(meanSquare + 1e-5);
            }
        }
        AssertClose(expected, output);
        Assert.Equal(["weight"], new RMSNorm(4).state_dict().Keys);
    }

    [Fact]
    public void WithItsScaleHeldConstantInputTimesGradientIsTheIncomingRelevance()
    {
        using var scope = NewDisposeScope();
        double[] x = Values(8, 3), w = Values(4, 4).Select(v => 1 + v).ToArray(), r = Values(8, 5);
        RMSNorm norm = Norm(w, 1e-6);
        // input x gradient of weight * x * c with c = rsqrt(mean(x^2) + eps) detached, seeded with R / y.
        using var grad = enable_grad();
        Tensor input = T(x, 2, 4).requires_grad_(true);
        Tensor c = input.detach().pow(Scalars.Of(2.0)).mean([-1L], keepdim: true).add(Scalars.Of(1e-6), Scalars.One).rsqrt();
        Tensor y = input * c * norm.Weight.detach();
        Tensor g = autograd.grad(new[] { y }, new[] { input }, new[] { T(r, 2, 4) / y.detach() })[0];
        AssertClose(r, D(input.detach() * g), 1e-12);
        AssertClose(r, RuleRelevance(norm, new Pass(), T(x, 2, 4), T(r, 2, 4)));
    }

    [Fact]
    public void RefusesAnInputOfAnotherWidth()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => new RMSNorm(4, dtype: ScalarType.Float64).call(zeros(2, 3, dtype: ScalarType.Float64)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RMSNorm(0));
    }
}
