using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Layers;
using RelevanceSharp.Rules;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

/// <summary>
/// Rules on modules whose forward takes several tensors: hand-computed splits, conservation for every accepted module
/// form, the refusals, and a model whose residual additions carry a rule of their own.
/// </summary>
public class MultiInputRuleTests
{
    /// <summary>Feeds the two halves of the last dimension to a module of two inputs; slicing passes relevance unchanged.</summary>
    private sealed class Halves : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module inner;
        private readonly int parts;

        public Halves(nn.Module inner, int parts = 2) : base(nameof(Halves))
        {
            this.inner = inner;
            this.parts = parts;
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            long width = input.shape[^1] / parts;
            Tensor[] xs = Enumerable.Range(0, parts).Select(i => input.narrow(-1, i * width, width)).ToArray();
            return inner switch
            {
                nn.Module<Tensor, Tensor, Tensor> two => two.call(xs[0], xs[1]),
                nn.Module<Tensor, Tensor, Tensor, Tensor> three => three.call(xs[0], xs[1], xs[2]),
                nn.Module<Tensor[], Tensor> array => array.call(xs),
                nn.Module<IList<Tensor>, Tensor> list => list.call(xs.ToList()),
                nn.Module<(Tensor, Tensor), Tensor> pair => pair.call((xs[0], xs[1])),
                _ => throw new ArgumentException(inner.GetType().Name),
            };
        }
    }

    private sealed class SumOfArray : nn.Module<Tensor[], Tensor>
    {
        public SumOfArray() : base(nameof(SumOfArray))
        {
        }

        public override Tensor forward(Tensor[] input) => input.Aggregate((a, b) => a.add(b, Scalars.One));
    }

    private sealed class SumOfList : nn.Module<IList<Tensor>, Tensor>
    {
        public SumOfList() : base(nameof(SumOfList))
        {
        }

        public override Tensor forward(IList<Tensor> input) => input.Aggregate((a, b) => a.add(b, Scalars.One));
    }

    private sealed class SumOfPair : nn.Module<(Tensor, Tensor), Tensor>
    {
        public SumOfPair() : base(nameof(SumOfPair))
        {
        }

        public override Tensor forward((Tensor, Tensor) input) => input.Item1.add(input.Item2, Scalars.One);
    }

    private sealed class SumOfThree : nn.Module<Tensor, Tensor, Tensor, Tensor>
    {
        public SumOfThree() : base(nameof(SumOfThree))
        {
        }

        public override Tensor forward(Tensor a, Tensor b, Tensor c) => a.add(b, Scalars.One).add(c, Scalars.One);
    }

    /// <summary>A parameterized module of two inputs that the engine has no functional form for.</summary>
    private sealed class ScaledAdd : nn.Module<Tensor, Tensor, Tensor>
    {
        private readonly Parameter factor = new(ones(1, dtype: ScalarType.Float64));

        public ScaledAdd() : base(nameof(ScaledAdd)) => RegisterComponents();

        public override Tensor forward(Tensor a, Tensor b) => (a.add(b, Scalars.One)) * factor;
    }

    private static Composite On(Func<nn.Module, bool> match, Rule rule) =>
        new LayerMapComposite(new (ModuleMatcher, Rule)[] { (new ModuleMatcher("target", match), rule) });

    private static double[] Relevance(nn.Module<Tensor, Tensor> model, Composite composite, Tensor input, AttributionTarget target)
    {
        using AttributionResult result = new Gradient(model, composite, target).Attribute(input);
        return D(result.Relevance);
    }

    [Fact]
    public void NormSplitsASumInProportionToEachSummand()
    {
        using var scope = NewDisposeScope();
        // a = [1, 3], b = [3, -1], a + b = [4, 2]; the relevance of output 0 (1) goes 1/4 to a and 3/4 to b, that of
        // output 1 (2, the output itself as target) 3/2 * 2 = 3 to a and -1/2 * 2 = -1 to b.
        var model = new Halves(new Add());
        Tensor x = T(new[] { 1.0, 3.0, 3.0, -1.0 }, 1, 4);
        var composite = On(m => m is Add, new Norm(new Stabilizer(1e-12)));
        AssertClose(new[] { 0.25, 0.0, 0.75, 0.0 }, Relevance(model, composite, x, AttributionTarget.Class(0)), 1e-9);
        AssertClose(new[] { 1.0, 3.0, 3.0, -1.0 }, Relevance(model, composite, x, AttributionTarget.Output), 1e-9);
        // The plain gradient of a sum would give every summand the whole relevance: [1, 0, 1, 0].
        AssertClose(new[] { 1.0, 0.0, 1.0, 0.0 }, Relevance(model, new LayerMapComposite(Array.Empty<(ModuleMatcher, Rule)>()), x, AttributionTarget.Class(0)), 1e-12);
    }

    public static TheoryData<string> Forms() => new() { "arguments2", "arguments3", "array", "list", "tuple" };

    private static (nn.Module Inner, int Parts) Form(string name) => name switch
    {
        "arguments2" => (new Add(), 2),
        "arguments3" => (new SumOfThree(), 3),
        "array" => (new SumOfArray(), 4),
        "list" => (new SumOfList(), 3),
        "tuple" => (new SumOfPair(), 2),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public void NormConservesRelevanceForEveryModuleForm(string form)
    {
        using var scope = NewDisposeScope();
        var (inner, parts) = Form(form);
        var model = new Halves(inner, parts);
        var composite = On(m => ReferenceEquals(m, inner), new Norm(new Stabilizer(1e-12)));
        for (ulong seed = 1; seed <= 5; seed++)
        {
            // Positive summands keep the sums away from zero, where the stabilizer would take a share.
            Tensor x = T(Values(parts * 3 * 2, seed).Select(v => v + 1.5).ToArray(), 2, parts * 3);
            using AttributionResult result = new Gradient(model, composite, AttributionTarget.Output).Attribute(x);
            double expected = result.Output.sum().item<double>();
            double actual = result.Relevance.sum().item<double>();
            Assert.True(Math.Abs(expected - actual) < 1e-9, $"{form}, seed {seed}: output {expected}, relevance {actual}");
            // Each summand's share is its value over the sum times the relevance there (the output itself here):
            // exactly the summand.
            AssertClose(D(x), D(result.Relevance), 1e-9, $"{form} split");
        }
    }

    /// <summary>
    /// The relevance of the two inputs of x1^T W x2 (2 x 2 weights, one output) when the rule scales the output's
    /// gradient by <paramref name="s"/>: x1 * (W x2) * s, then x2 * (W^T x1) * s.
    /// </summary>
    private static double[] BilinearSplit(double[] x1, double[] x2, double[,] w, double s) =>
    [
        x1[0] * (w[0, 0] * x2[0] + w[0, 1] * x2[1]) * s,
        x1[1] * (w[1, 0] * x2[0] + w[1, 1] * x2[1]) * s,
        x2[0] * (w[0, 0] * x1[0] + w[1, 0] * x1[1]) * s,
        x2[1] * (w[0, 1] * x1[0] + w[1, 1] * x1[1]) * s,
    ];

    [Fact]
    public void EpsilonOnABilinearLayerMatchesTheHandFormula()
    {
        using var scope = NewDisposeScope();
        // y = x1^T W x2 + b with one output; Epsilon gives x1 * (W x2) * s and x2 * (W^T x1) * s, s = R / (y + eps sign y).
        var bilinear = nn.Bilinear(2, 2, 1, dtype: ScalarType.Float64);
        using (no_grad())
        {
            bilinear.weight.copy_(T(new[] { 1.0, -2.0, 0.5, 3.0 }, 1, 2, 2));
            bilinear.bias!.copy_(T(new[] { 0.25 }));
        }
        var model = new Halves(bilinear);
        double[] x1 = { 2.0, -1.0 }, x2 = { 0.5, 1.5 };
        Tensor x = T(x1.Concat(x2).ToArray(), 1, 4);
        double[,] w = { { 1.0, -2.0 }, { 0.5, 3.0 } };
        double y = 0.25;
        for (int i = 0; i < 2; i++)
        {
            for (int j = 0; j < 2; j++)
            {
                y += x1[i] * w[i, j] * x2[j];
            }
        }
        const double epsilon = 0.1;
        double s = y / (y + epsilon * Math.Sign(y)); // the output itself as the relevance to explain
        double[] expected = BilinearSplit(x1, x2, w, s);
        AssertClose(expected, Relevance(model, On(m => m is Bilinear, new Epsilon(epsilon)), x, AttributionTarget.Output), 1e-12);
    }

    [Fact]
    public void ZPlusOnABilinearLayerUsesThePositiveWeights()
    {
        using var scope = NewDisposeScope();
        // With non-negative inputs ZPlus keeps W+ and b+ only: y+ = x1^T W+ x2 + b+, split as for Epsilon with s = R / y+.
        var bilinear = nn.Bilinear(2, 2, 1, dtype: ScalarType.Float64);
        using (no_grad())
        {
            bilinear.weight.copy_(T(new[] { 1.0, -2.0, 0.5, 3.0 }, 1, 2, 2));
            bilinear.bias!.copy_(T(new[] { -0.25 }));
        }
        var model = new Halves(bilinear);
        double[] x1 = { 2.0, 1.0 }, x2 = { 0.5, 1.5 };
        double[,] w = { { 1.0, 0.0 }, { 0.5, 3.0 } };
        double yPlus = 0.0;
        for (int i = 0; i < 2; i++)
        {
            for (int j = 0; j < 2; j++)
            {
                yPlus += x1[i] * w[i, j] * x2[j];
            }
        }
        double s = 1.0 / (yPlus + 1e-6);
        double[] expected = BilinearSplit(x1, x2, w, s);
        Tensor x = T(x1.Concat(x2).ToArray(), 1, 4);
        AssertClose(expected, Relevance(model, On(m => m is Bilinear, new ZPlus()), x, AttributionTarget.Class(0)), 1e-9);
    }

    [Fact]
    public void ARuleThatCannotSplitAmongInputsIsRefusedAtRegistration()
    {
        using var scope = NewDisposeScope();
        var model = new Halves(new Add());
        var ex = Assert.Throws<NotSupportedException>(() => On(m => m is Add, new Pass()).Register(model));
        Assert.Contains("Pass", ex.Message, StringComparison.Ordinal);
        Assert.Contains("several inputs", ex.Message, StringComparison.Ordinal);
        // The refused registration left nothing behind: the plain gradient flows.
        Tensor x = T(new[] { 1.0, 3.0, 3.0, -1.0 }, 1, 4);
        AssertClose(new[] { 1.0, 0.0, 1.0, 0.0 }, Relevance(model, new LayerMapComposite(Array.Empty<(ModuleMatcher, Rule)>()), x, AttributionTarget.Class(0)));
    }

    [Fact]
    public void AParameterModifyingRuleOnAnUnknownParameterizedModuleIsRefusedByName()
    {
        using var scope = NewDisposeScope();
        var model = new Halves(new ScaledAdd());
        Tensor x = T(new[] { 1.0, 3.0, 3.0, -1.0 }, 1, 4);
        var ex = Assert.ThrowsAny<NotSupportedException>(() => Relevance(model, On(m => m is ScaledAdd, new ZPlus()), x, AttributionTarget.Output));
        Assert.Contains("ScaledAdd", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARuleOnAnEmbeddingIsRefusedWithTheReason()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("embed", nn.Embedding(5, 3)), ("flat", nn.Flatten()));
        var ex = Assert.Throws<NotSupportedException>(() => On(m => m is Embedding, new Epsilon()).Register(model));
        Assert.Contains("Embedding", ex.Message, StringComparison.Ordinal);
        Assert.Contains("integer indices", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// h = relu(W1 x); out = W3 (W2 h + h): a residual block whose addition is an <see cref="Add"/> module of two
    /// inputs, or (<paramref name="stacked"/>) the single-input <see cref="Sum"/> over the two summands stacked.
    /// </summary>
    private sealed class ResidualNet(bool stacked = false) : nn.Module<Tensor, Tensor>(nameof(ResidualNet))
    {
        private readonly Linear first = nn.Linear(4, 4, hasBias: false, dtype: ScalarType.Float64);
        private readonly ReLU relu = nn.ReLU();
        private readonly Linear branch = nn.Linear(4, 4, hasBias: false, dtype: ScalarType.Float64);
        private readonly Add add = new();
        private readonly Sum sum = new();
        private readonly Linear last = nn.Linear(4, 2, hasBias: false, dtype: ScalarType.Float64);

        public ResidualNet Build()
        {
            RegisterComponents();
            return this;
        }

        public override Tensor forward(Tensor input)
        {
            Tensor h = relu.call(first.call(input));
            Tensor b = branch.call(h);
            return last.call(stacked ? sum.call(stack(new[] { b, h }, -1)) : add.call(b, h));
        }
    }

    [Fact]
    public void ANamedCompositeGivesAResidualAdditionNormAndConservesRelevance()
    {
        using var scope = NewDisposeScope();
        var model = Engine.TestNets.Fill(new ResidualNet().Build(), 11, zeroBias: true);
        var composite = new EpsilonPlusFlat(new Stabilizer(1e-12), new Stabilizer(1e-12));
        using (CompositeRegistration registration = composite.Register(model))
        {
            Assert.Contains(registration.Rules, r => r.Name == "add" && r.Rule is Norm);
        }
        for (ulong seed = 1; seed <= 4; seed++)
        {
            Tensor x = T(Values(8, seed), 2, 4);
            using AttributionResult result = new Gradient(model, composite, AttributionTarget.ClassScore(1)).Attribute(x);
            // Without biases every rule here conserves: the input's relevance sums to the explained score.
            Tensor scores = result.Output.select(1, 1);
            Tensor sums = result.Relevance.sum(1);
            AssertClose(D(scores), D(sums), 1e-8, $"seed {seed}");
        }
    }

    [Fact]
    public void TwoInputsAndTheStackedSumGiveTheSameFirstAndSecondOrderRelevance()
    {
        using var scope = NewDisposeScope();
        // The same function and rules, the addition once a module of two inputs and once a Sum over a stacked input:
        // the modified gradient and its derivative (taken with the hooks inactive) must agree.
        var composite = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (LayerTypes.Sum, new Epsilon(0.5)), (LayerTypes.Dense, new Epsilon(0.25)) });
        (double[] First, double[] Second) Run(bool stacked)
        {
            var model = Engine.TestNets.Fill(new ResidualNet(stacked).Build(), 12);
            using CompositeRegistration registration = composite.Register(model);
            using var grad = enable_grad();
            Tensor x = T(Values(8, 3), 2, 4).requires_grad_(true);
            Tensor output = model.call(x);
            Tensor first = autograd.grad(new[] { output }, new[] { x }, new[] { ones_like(output) }, retain_graph: true, create_graph: true)[0];
            BackwardFailures.ThrowIfAny();
            Assert.True(first.requires_grad, "the modified gradient is not attached to a graph");
            Tensor second;
            using (registration.Inactive())
            {
                second = autograd.grad(new[] { first.sum() }, new[] { x })[0];
            }
            BackwardFailures.ThrowIfAny();
            registration.ReleasePendingCalls();
            return (D(first), D(second));
        }
        var (stackedFirst, stackedSecond) = Run(stacked: true);
        var (pairFirst, pairSecond) = Run(stacked: false);
        Assert.Contains(stackedSecond, v => Math.Abs(v) > 1e-6);
        AssertClose(stackedFirst, pairFirst, 1e-12, "modified gradient");
        AssertClose(stackedSecond, pairSecond, 1e-12, "second derivative");
    }
}
