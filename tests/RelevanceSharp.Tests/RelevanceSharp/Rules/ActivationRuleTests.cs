using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

/// <summary>The ReLU rules, on a ReLU alone and inside Linear -> ReLU -> Linear.</summary>
public class ActivationRuleTests
{
    private static readonly double[] Input = { 1.5, -0.5, 0.0, 2.0, -3.0, 0.25, 0.75, -0.1 };
    private static readonly double[] Seed = { 0.5, 1.0, -2.0, -0.25, 0.0, 3.0, -1.0, 0.4 };

    private static double[] Expected(Func<double, double, double> rule) => Input.Zip(Seed, rule).ToArray();

    private static Tensor OnReLU(Rule rule) => RuleRelevance(nn.ReLU(), rule, T(Input, 2, 4), T(Seed, 2, 4));

    private static double Sigmoid(double v) => 1.0 / (1.0 + Math.Exp(-v));

    [Fact]
    public void PlainGradientMasksByTheForward()
    {
        // The reference point the rules differ from: without a rule, the gradient is zero where x <= 0.
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        Tensor x = T(Input, 2, 4).requires_grad_(true);
        Tensor gradient = autograd.grad(new[] { nn.ReLU().call(x) }, new[] { x }, new[] { T(Seed, 2, 4) })[0];
        AssertClose(Expected((x, r) => x > 0 ? r : 0.0), gradient);
    }

    [Fact]
    public void PassHandsTheRelevanceOnUnchanged()
    {
        using var scope = NewDisposeScope();
        AssertClose(Seed, OnReLU(new Pass()));
    }

    [Fact]
    public void DeconvNetKeepsThePositiveGradientAndIgnoresTheForwardMask()
    {
        using var scope = NewDisposeScope();
        AssertClose(Expected((_, r) => Math.Max(r, 0.0)), OnReLU(new ReLUDeconvNet()));
    }

    [Fact]
    public void GuidedBackpropNeedsBothAPositiveInputAndAPositiveGradient()
    {
        using var scope = NewDisposeScope();
        AssertClose(Expected((x, r) => x > 0 && r > 0 ? r : 0.0), OnReLU(new ReLUGuidedBackprop()));
    }

    [Theory]
    [InlineData(10.0)]
    [InlineData(1.0)]
    public void BetaSmoothUsesTheSoftplusGradient(double beta)
    {
        using var scope = NewDisposeScope();
        AssertClose(Expected((x, r) => Sigmoid(beta * x) * r), OnReLU(new ReLUBetaSmooth(beta)));
    }

    [Theory]
    [InlineData("deconvnet")]
    [InlineData("guided")]
    [InlineData("beta")]
    public void RulesActOnTheGradientArrivingThroughTheNextLayer(string which)
    {
        // Linear(3 -> 4) -> ReLU -> Linear(4 -> 2); the gradient arriving at the ReLU is W2^T seed, of mixed sign.
        using var scope = NewDisposeScope();
        double[,] w1 = { { 1.0, -0.5, 0.2 }, { -0.7, 0.3, 0.9 }, { 0.4, 0.4, -1.1 }, { -0.2, -0.8, 0.5 } };
        double[] b1 = { 0.1, -0.1, 0.05, 0.3 };
        double[,] w2 = { { 0.6, -1.2, 0.8, 0.3 }, { -0.4, 0.5, -0.9, 1.0 } };
        double[] x = { 0.8, -1.0, 0.5 };
        double[] seed = { 1.0, 0.0 };
        Rule rule = which switch
        {
            "deconvnet" => new ReLUDeconvNet(),
            "guided" => new ReLUGuidedBackprop(),
            _ => new ReLUBetaSmooth(2.0),
        };
        var relu = nn.ReLU();
        var model = nn.Sequential(("0", Linear(w1, b1)), ("1", relu), ("2", Linear(w2, null)));
        using IDisposable registration = rule.Register(relu);
        using var grad = enable_grad();
        Tensor input = T(x, 1, 3).requires_grad_(true);
        Tensor gradient = autograd.grad(new[] { model.call(input) }, new[] { input }, new[] { T(seed, 1, 2) })[0];
        BackwardFailures.ThrowIfAny();

        var atRelu = new double[4];
        var z = new double[4];
        for (int j = 0; j < 4; j++)
        {
            atRelu[j] = w2[0, j] * seed[0] + w2[1, j] * seed[1];
            z[j] = b1[j] + w1[j, 0] * x[0] + w1[j, 1] * x[1] + w1[j, 2] * x[2];
        }
        Assert.Contains(atRelu, g => g < 0);
        Assert.Contains(z, v => v < 0);
        var afterRelu = new double[4];
        for (int j = 0; j < 4; j++)
        {
            afterRelu[j] = which switch
            {
                "deconvnet" => Math.Max(atRelu[j], 0.0),
                "guided" => z[j] > 0 && atRelu[j] > 0 ? atRelu[j] : 0.0,
                _ => Sigmoid(2.0 * z[j]) * atRelu[j],
            };
        }
        var expected = new double[3];
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                expected[i] += w1[j, i] * afterRelu[j];
            }
        }
        AssertClose(expected, gradient);
    }
}
