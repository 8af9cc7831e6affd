using RelevanceSharp.Core;
using RelevanceSharp.Layers;
using RelevanceSharp.Rules;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

/// <summary>
/// The product rules (Uniform, ConstantGate) on matrix and element-wise products, against the formulas written out
/// with loops over plain arrays, and their conservation.
/// </summary>
public class ProductRuleTests
{
    /// <summary>Runs a two-input module under a rule and returns the relevance of both inputs.</summary>
    private static (Tensor A, Tensor B) Relevance(nn.Module<Tensor, Tensor, Tensor> module, Rule rule, Tensor a, Tensor b, Tensor seed)
    {
        using IDisposable registration = rule.Register(module);
        using var grad = enable_grad();
        Tensor x = a.detach().clone().requires_grad_(true);
        Tensor y = b.detach().clone().requires_grad_(true);
        Tensor output = module.call(x, y);
        Assert.Equal(seed.shape, output.shape);
        // A gate the rule holds constant reaches the module detached, so the graph does not use it: no gradient, zeros.
        IList<Tensor> gradients = autograd.grad(new[] { output }, new[] { x, y }, new[] { seed }, allow_unused: true);
        BackwardFailures.ThrowIfAny();
        Tensor Of(Tensor? g, Tensor like) => g is null || g.IsInvalid ? zeros_like(like) : g.detach();
        return (Of(gradients[0], x), Of(gradients[1], y));
    }

    // a (n x k), b (k x m), r (n x m), all row-major; the relevance of a and b for shares (sa, sb) of y = scale * a b.
    private static (double[] A, double[] B) HandMatMul(double[] a, double[] b, double[] r, int n, int k, int m, double scale, double sa, double sb)
    {
        var (ra, rb, _) = HandMatMulWithTotal(a, b, r, n, k, m, scale, sa, sb);
        return (ra, rb);
    }

    // As HandMatMul, plus what a conservative split hands on in all: sum r * y / (y + 1e-9 sign(y)).
    private static (double[] A, double[] B, double Total) HandMatMulWithTotal(double[] a, double[] b, double[] r, int n, int k, int m,
        double scale, double sa, double sb)
    {
        var y = new double[n * m];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < m; j++)
            {
                double sum = 0;
                for (int t = 0; t < k; t++)
                {
                    sum += a[i * k + t] * b[t * m + j];
                }
                y[i * m + j] = scale * sum;
            }
        }
        // u = r / (y + 1e-9 sign(y)), sign(0) = +1.
        double[] u = y.Select((v, i) => r[i] / (v + (v >= 0 ? 1e-9 : -1e-9))).ToArray();
        var ra = new double[n * k];
        var rb = new double[k * m];
        for (int i = 0; i < n; i++)
        {
            for (int t = 0; t < k; t++)
            {
                for (int j = 0; j < m; j++)
                {
                    // y_ij = scale * sum_t a_it b_tj: a_it's contribution to y_ij is scale * a_it * b_tj.
                    double contribution = scale * a[i * k + t] * b[t * m + j] * u[i * m + j];
                    ra[i * k + t] += sa * contribution;
                    rb[t * m + j] += sb * contribution;
                }
            }
        }
        return (ra, rb, y.Select((v, i) => v * u[i]).Sum());
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.125)]
    public void UniformGivesEachFactorOfAMatrixProductHalfItsContributions(double scale)
    {
        using var scope = NewDisposeScope();
        double[] a = Values(6, 1), b = Values(12, 2), r = Values(8, 3);
        var (ra, rb) = Relevance(new MatMul(scale), new Uniform(), T(a, 2, 3), T(b, 3, 4), T(r, 2, 4));
        var (ea, eb, total) = HandMatMulWithTotal(a, b, r, 2, 3, 4, scale, 0.5, 0.5);
        AssertClose(ea, ra, 1e-10, "R_a");
        AssertClose(eb, rb, 1e-10, "R_b");
        // Conservative up to the stabilizer, whose effect the total includes.
        Assert.Equal(total, D(ra).Sum() + D(rb).Sum(), 1e-12);
        Assert.Equal(r.Sum(), total, 1e-6);
    }

    [Fact]
    public void ConstantGateSendsEverythingToTheOtherFactor()
    {
        using var scope = NewDisposeScope();
        double[] a = Values(6, 4), b = Values(12, 5), r = Values(8, 6);
        var (ra, rb) = Relevance(new MatMul(0.5, gate: 0), new ConstantGate(), T(a, 2, 3), T(b, 3, 4), T(r, 2, 4));
        var (_, eb, total) = HandMatMulWithTotal(a, b, r, 2, 3, 4, 0.5, 0.0, 1.0);
        AssertClose(new double[6], ra, 0, "R_gate");
        AssertClose(eb, rb, 1e-10, "R_values");
        Assert.Equal(total, D(rb).Sum(), 1e-12);
    }

    [Fact]
    public void AnExplicitGatePositionOverridesTheModules()
    {
        using var scope = NewDisposeScope();
        double[] a = Values(6, 7), b = Values(12, 8), r = Values(8, 9);
        var (ra, rb) = Relevance(new MatMul(gate: 0), new ConstantGate(gate: 1), T(a, 2, 3), T(b, 3, 4), T(r, 2, 4));
        var (ea, _) = HandMatMul(a, b, r, 2, 3, 4, 1.0, 1.0, 0.0);
        AssertClose(ea, ra, 1e-10, "R_a");
        AssertClose(new double[12], rb, 0, "R_b");
    }

    [Fact]
    public void BatchedMatrixProductsBroadcastTheirLeadingDimensions()
    {
        using var scope = NewDisposeScope();
        // (2, 2, 3) @ (3, 4): the second factor is shared by both batch entries, so its relevance sums over them.
        double[] a = Values(12, 10), b = Values(12, 11), r = Values(16, 12);
        var (ra, rb) = Relevance(new MatMul(), new Uniform(), T(a, 2, 2, 3), T(b, 3, 4), T(r, 2, 2, 4));
        var (ea0, eb0) = HandMatMul(a[..6], b, r[..8], 2, 3, 4, 1.0, 0.5, 0.5);
        var (ea1, eb1) = HandMatMul(a[6..], b, r[8..], 2, 3, 4, 1.0, 0.5, 0.5);
        AssertClose(ea0.Concat(ea1).ToArray(), ra, 1e-10, "R_a");
        AssertClose(eb0.Zip(eb1, (x, y) => x + y).ToArray(), rb, 1e-10, "R_b");
    }

    [Fact]
    public void UniformHalvesTheRelevanceOfAnElementwiseProduct()
    {
        using var scope = NewDisposeScope();
        double[] a = Values(8, 13), b = Values(8, 14), r = Values(8, 15);
        var (ra, rb) = Relevance(new Multiply(), new Uniform(), T(a, 2, 4), T(b, 2, 4), T(r, 2, 4));
        // x * d(ab)/dx * r/(ab) = r wherever ab is well away from zero.
        double[] half = a.Zip(b, (x, y) => x * y).Zip(r, (y, v) => 0.5 * v * y / (y + (y >= 0 ? 1e-9 : -1e-9))).ToArray();
        AssertClose(half, ra, 1e-10, "R_a");
        AssertClose(half, rb, 1e-10, "R_b");
    }

    [Fact]
    public void ABroadcastGateOfASqueezeAndExcitationBlockCollectsItsChannelsRelevance()
    {
        using var scope = NewDisposeScope();
        // x (1, 2, 3) times a per-channel gate (1, 2, 1): the gate's relevance is the sum over its channel's positions.
        double[] x = Values(6, 16), gate = Values(2, 17), r = Values(6, 18);
        var (rx, rg) = Relevance(new Multiply(), new Uniform(), T(x, 1, 2, 3), T(gate, 1, 2, 1), T(r, 1, 2, 3));
        var expectedX = new double[6];
        var expectedGate = new double[2];
        for (int c = 0; c < 2; c++)
        {
            for (int i = 0; i < 3; i++)
            {
                double y = x[c * 3 + i] * gate[c];
                double share = 0.5 * r[c * 3 + i] * y / (y + (y >= 0 ? 1e-9 : -1e-9));
                expectedX[c * 3 + i] = share;
                expectedGate[c] += share;
            }
        }
        AssertClose(expectedX, rx, 1e-10, "R_x");
        AssertClose(expectedGate, rg, 1e-10, "R_gate");
    }

    [Fact]
    public void ConstantGateWithoutAGateIsRefusedWhenTheRelevanceIsComputed()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<InvalidOperationException>(() =>
            Relevance(new Multiply(), new ConstantGate(), T(Values(4, 1), 4), T(Values(4, 2), 4), T(Values(4, 3), 4)));
        Assert.Contains("gate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnAOneInputModuleTheInputGetsItsWholeInputTimesGradient()
    {
        using var scope = NewDisposeScope();
        // A Linear layer without bias is a product of one factor: the rule is LRP-0 with the exact stabilizer.
        Tensor weight = T(Values(6, 19), 2, 3);
        var linear = nn.Linear(3, 2, hasBias: false, dtype: ScalarType.Float64);
        using (no_grad())
        {
            linear.weight!.copy_(weight);
        }
        double[] x = Values(3, 20), r = Values(2, 21);
        Tensor relevance = RuleRelevance(linear, new Uniform(), T(x, 1, 3), T(r, 1, 2));
        var (expected, _) = HandMatMul(x, D(weight.t().contiguous()), r, 1, 3, 2, 1.0, 1.0, 0.0);
        AssertClose(expected, relevance, 1e-10);
    }
}
