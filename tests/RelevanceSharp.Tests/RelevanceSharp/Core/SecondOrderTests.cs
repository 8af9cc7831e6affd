using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

/// <summary>
/// The gradient of a modified gradient: with beta_smooth, each ReLU's derivative becomes sigmoid(beta * z), so the
/// modified gradient of Linear(3 -> 4) -> ReLU -> Linear(4 -> 4) -> ReLU -> Linear(4 -> 1) is a smooth function of x
/// whose derivative is written out here by hand.
/// </summary>
public class SecondOrderTests
{
    private const double Beta = 3.0;

    private static readonly double[,] W1 = { { 0.8, -0.5, 0.3 }, { -0.6, 0.9, 0.4 }, { 0.5, 0.2, -0.7 }, { -0.3, -0.4, 0.6 } };
    private static readonly double[] B1 = { 0.1, -0.2, 0.05, 0.15 };
    private static readonly double[,] W2 = { { 0.7, -0.2, 0.4, -0.5 }, { -0.3, 0.6, 0.5, 0.2 }, { 0.4, 0.3, -0.6, 0.7 }, { -0.5, 0.1, 0.2, 0.6 } };
    private static readonly double[] B2 = { -0.05, 0.1, 0.2, -0.1 };
    private static readonly double[,] W3 = { { 0.9, -0.7, 0.5, 0.8 } };

    private static readonly double[] Inputs = { 0.6, -0.4, 0.9, -0.2, 0.7, 0.3 };

    private static Sequential Model() => nn.Sequential(
        ("0", Linear(W1, B1)), ("1", nn.ReLU()), ("2", Linear(W2, B2)), ("3", nn.ReLU()), ("4", Linear(W3, null)));

    private static double Sigmoid(double v) => 1.0 / (1.0 + Math.Exp(-v));

    /// <summary>The beta-smooth gradient g(x) and the gradient of sum_i g_i(x), for one sample.</summary>
    private static (double[] First, double[] Second) ByHand(double[] x)
    {
        var z1 = new double[4];
        var a1 = new double[4];
        for (int j = 0; j < 4; j++)
        {
            z1[j] = B1[j] + Enumerable.Range(0, 3).Sum(i => W1[j, i] * x[i]);
            a1[j] = Math.Max(z1[j], 0.0);
        }
        var z2 = new double[4];
        for (int k = 0; k < 4; k++)
        {
            z2[k] = B2[k] + Enumerable.Range(0, 4).Sum(j => W2[k, j] * a1[j]);
        }
        double[] s1 = z1.Select(z => Sigmoid(Beta * z)).ToArray();
        double[] s2 = z2.Select(z => Sigmoid(Beta * z)).ToArray();
        double[] u = Enumerable.Range(0, 4).Select(k => W3[0, k] * s2[k]).ToArray();            // at z2
        double[] t = Enumerable.Range(0, 4).Select(j => Enumerable.Range(0, 4).Sum(k => W2[k, j] * u[k])).ToArray(); // at a1
        double[] v = Enumerable.Range(0, 4).Select(j => s1[j] * t[j]).ToArray();                 // at z1
        double[] first = Enumerable.Range(0, 3).Select(i => Enumerable.Range(0, 4).Sum(j => W1[j, i] * v[j])).ToArray();

        // S = sum_i g_i = sum_j c_j s1_j t_j with c_j = sum_i W1_ji. Differentiate s1 (through z1) and t (through s2,
        // whose z2 depends on x through the true ReLU: the outer derivative is the ordinary gradient).
        double[] c = Enumerable.Range(0, 4).Select(j => Enumerable.Range(0, 3).Sum(i => W1[j, i])).ToArray();
        var second = new double[3];
        for (int m = 0; m < 3; m++)
        {
            for (int j = 0; j < 4; j++)
            {
                double ds1 = Beta * s1[j] * (1 - s1[j]) * W1[j, m];
                double dt = 0.0;
                for (int k = 0; k < 4; k++)
                {
                    double dz2 = Enumerable.Range(0, 4).Sum(l => W2[k, l] * (z1[l] > 0 ? 1.0 : 0.0) * W1[l, m]);
                    dt += W2[k, j] * W3[0, k] * Beta * s2[k] * (1 - s2[k]) * dz2;
                }
                second[m] += c[j] * (ds1 * t[j] + s1[j] * dt);
            }
        }
        return (first, second);
    }

    private static void CheckAgainstHand(Sequential model, Func<nn.Module<Tensor, Tensor>, CompositeRegistration> register)
    {
        using var scope = NewDisposeScope();
        using CompositeRegistration registration = register(model);
        using var grad = enable_grad();
        Tensor x = T(Inputs, 2, 3).requires_grad_(true);
        Tensor output = model.call(x);
        Tensor first = autograd.grad(new[] { output }, new[] { x }, new[] { ones_like(output) }, retain_graph: true, create_graph: true)[0];
        BackwardFailures.ThrowIfAny();
        Assert.True(first.requires_grad, "the modified gradient is not attached to a graph, so it cannot be differentiated");
        Tensor second;
        using (registration.Inactive())
        {
            second = autograd.grad(new[] { first.sum() }, new[] { x })[0];
        }
        BackwardFailures.ThrowIfAny();

        var (first0, second0) = ByHand(Inputs[..3]);
        var (first1, second1) = ByHand(Inputs[3..]);
        AssertClose(first0.Concat(first1).ToArray(), first, 1e-12, "modified gradient");
        AssertClose(second0.Concat(second1).ToArray(), second, 1e-12, "second derivative");
    }

    [Fact]
    public void HandComputationIsNotTrivial()
    {
        // Both hidden layers have units on both sides of zero, and the second derivative is not zero.
        var (_, second) = ByHand(Inputs[..3]);
        Assert.Contains(second, v => Math.Abs(v) > 1e-3);
    }

    [Fact]
    public void GradientOfTheBetaSmoothGradientMatchesTheAnalyticSecondDerivative() =>
        CheckAgainstHand(Model(), model => new BetaSmooth(Beta).Register(model));

    [Fact]
    public void NamedCompositeBetaSmoothGivesTheSameSecondDerivative() =>
        CheckAgainstHand(Model(), model => CompositeRegistry.Create("beta_smooth",
            new ArgumentReader(new Dictionary<string, System.Text.Json.JsonElement>
            {
                ["beta_smooth"] = System.Text.Json.JsonDocument.Parse("3.0").RootElement.Clone(),
            })).Register(model));

    [Fact]
    public void SecondDerivativeAlsoWorksWithFrozenParameters()
    {
        // Inference models often have parameters that do not require gradients; the gradient arriving at a ReLU
        // then carries no graph by itself, but the second derivative with respect to the input still exists.
        Sequential model = Model();
        foreach (var parameter in model.parameters())
        {
            parameter.requires_grad_(false);
        }
        CheckAgainstHand(model, m => new BetaSmooth(Beta).Register(m));
    }

    [Fact]
    public void SecondDerivativeThroughAnEpsilonRule()
    {
        // A rule built on BasicRule recomputes its layer inside the backward pass; the gradient of its result needs
        // that recomputation's graph. For Linear(3 -> 2) under Epsilon(eps) with seed s:
        // g = x * W^T q with q_j = s_j / stab(z_j), z = W x + b, stab(z) = z + eps sign(z); and
        // d(sum_i g_i)/dx_m = (W^T q)_m - sum_j (sum_i x_i W_ji) s_j W_jm / stab(z_j)^2.
        using var scope = NewDisposeScope();
        double[,] w = { { 0.7, -0.4, 0.2 }, { -0.3, 0.5, 0.9 } };
        double[] b = { 0.1, -0.2 }, x = { 0.5, -1.0, 0.8 }, s = { 1.0, -0.5 };
        const double eps = 0.3;
        var layer = Linear(w, b);
        using CompositeRegistration registration = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (LayerTypes.Dense, new Epsilon(eps)) }).Register(layer);
        using var grad = enable_grad();
        Tensor input = T(x, 1, 3).requires_grad_(true);
        Tensor output = layer.call(input);
        Tensor first = autograd.grad(new[] { output }, new[] { input }, new[] { T(s, 1, 2) }, retain_graph: true, create_graph: true)[0];
        BackwardFailures.ThrowIfAny();
        Tensor second;
        using (registration.Inactive())
        {
            second = autograd.grad(new[] { first.sum() }, new[] { input })[0];
        }

        double[] z = Enumerable.Range(0, 2).Select(j => b[j] + Enumerable.Range(0, 3).Sum(i => w[j, i] * x[i])).ToArray();
        double[] stab = z.Select(v => v + eps * (v >= 0 ? 1 : -1)).ToArray();
        double[] q = Enumerable.Range(0, 2).Select(j => s[j] / stab[j]).ToArray();
        double[] wq = Enumerable.Range(0, 3).Select(i => w[0, i] * q[0] + w[1, i] * q[1]).ToArray();
        double[] contribution = Enumerable.Range(0, 2).Select(j => Enumerable.Range(0, 3).Sum(i => x[i] * w[j, i])).ToArray();
        AssertClose(x.Select((v, i) => v * wq[i]).ToArray(), first, 1e-12, "relevance");
        double[] expected = Enumerable.Range(0, 3)
            .Select(m => wq[m] - Enumerable.Range(0, 2).Sum(j => contribution[j] * s[j] * w[j, m] / (stab[j] * stab[j])))
            .ToArray();
        AssertClose(expected, second, 1e-12, "second derivative");
    }

    [Fact]
    public void FirstOrderAttributionKeepsNoGraph()
    {
        // Without create_graph the modified gradient must not drag the forward graph along.
        using var scope = NewDisposeScope();
        Sequential model = Model();
        using CompositeRegistration registration = new LayerMapComposite(new (ModuleMatcher, Rule)[]
        {
            (LayerTypes.ReLU, new ReLUBetaSmooth(Beta)), (LayerTypes.Dense, new Epsilon()),
        }).Register(model);
        using var grad = enable_grad();
        Tensor x = T(Inputs, 2, 3).requires_grad_(true);
        Tensor output = model.call(x);
        Tensor first = autograd.grad(new[] { output }, new[] { x }, new[] { ones_like(output) })[0];
        BackwardFailures.ThrowIfAny();
        Assert.False(first.requires_grad);
    }

    [Fact]
    public void TheAttributorsCreateGraphOptionGivesTheSameSecondDerivative()
    {
        // zennit's create_graph: attribute, then differentiate the relevance with the hooks inactive, in one scope.
        using var scope = NewDisposeScope();
        var attributor = new RelevanceSharp.Attribution.Gradient(Model(), new BetaSmooth(Beta)) { CreateGraph = true };
        Tensor x = T(Inputs, 2, 3).requires_grad_(true);
        Tensor second;
        using (attributor.Scope())
        {
            using var result = attributor.Attribute(x, RelevanceSharp.Attribution.AttributionTarget.FromFunction(o => ones_like(o)));
            Assert.True(result.Relevance.requires_grad);
            using (attributor.HooksInactive())
            {
                second = autograd.grad(new[] { result.Relevance.sum() }, new[] { x })[0].detach().clone();
            }
        }
        var (_, second0) = ByHand(Inputs[..3]);
        var (_, second1) = ByHand(Inputs[3..]);
        AssertClose(second0.Concat(second1).ToArray(), second, 1e-12, "second derivative");
    }

    [Fact]
    public void GraphOptionsThatCannotWorkAreRefusedInsteadOfAbortingTheProcess()
    {
        using var scope = NewDisposeScope();
        Tensor x = T(Inputs, 2, 3);
        var retainNot = new RelevanceSharp.Attribution.Gradient(Model()) { CreateGraph = true, RetainGraph = false };
        Assert.Throws<InvalidOperationException>(() => retainNot.Attribute(x));
        var noScope = new RelevanceSharp.Attribution.Gradient(Model(), new BetaSmooth(Beta)) { CreateGraph = true };
        Assert.Contains("Scope()", Assert.Throws<InvalidOperationException>(() => noScope.Attribute(x)).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => noScope.HooksInactive());
        var occlusion = new RelevanceSharp.Attribution.Occlusion(Model()) { CreateGraph = true };
        Assert.Throws<NotSupportedException>(() => occlusion.Attribute(x));
        // Without a composite the plain gradient's gradient needs no scope.
        var plain = new RelevanceSharp.Attribution.Gradient(Model()) { CreateGraph = true };
        using var result = plain.Attribute(x.requires_grad_(true));
        Assert.True(result.Relevance.requires_grad);
    }
}
