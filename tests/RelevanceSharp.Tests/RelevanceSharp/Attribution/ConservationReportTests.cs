using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Attribution;

/// <summary>The conservation report against balances written out by hand.</summary>
public class ConservationReportTests
{
    private const double Eps = 1e-6;

    private static double Stabilized(double z) => z + (z >= 0 ? Eps : -Eps);

    private static readonly double[,] W1 = { { 0.5, -1.0, 0.25 }, { 1.5, 0.5, -0.5 } };
    private static readonly double[] B1 = { 0.3, -0.2 };
    private static readonly double[] W2 = { 0.8, -0.6 };
    private static readonly double[] X = { 1.0, -0.5, 2.0 };

    private static LayerMapComposite EpsilonComposite() =>
        new([(LayerTypes.Dense, new Epsilon(Eps)), (LayerTypes.ReLU, new Pass())]);

    [Fact]
    public void EachLayerAbsorbsWhatItsBiasAndStabilizerTake()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("0", Linear(W1, B1)), ("1", nn.ReLU()), ("2", Linear(new[,] { { W2[0], W2[1] } }, null)));

        var (result, report) = ConservationReport.Attribute(new Gradient(model, EpsilonComposite()), T(X, 1, 3), AttributionTarget.ClassScore(0));
        using (result)
        {
            // By hand: z = W1 x + b1, a = relu(z), y = w2 a; the relevance starts at y.
            double[] z = { W1[0, 0] * X[0] + W1[0, 1] * X[1] + W1[0, 2] * X[2] + B1[0], W1[1, 0] * X[0] + W1[1, 1] * X[1] + W1[1, 2] * X[2] + B1[1] };
            double[] a = z.Select(v => Math.Max(v, 0)).ToArray();
            double y = W2[0] * a[0] + W2[1] * a[1];
            // Layer 2 (no bias) hands on y * y / (y + eps): it absorbs only what the stabilizer takes.
            double[] ra = { a[0] * W2[0] * y / Stabilized(y), a[1] * W2[1] * y / Stabilized(y) };
            // Layer 1 hands on sum_j z_j' R_j / (z_j + eps) with z_j' = z_j - b_j; it absorbs R_j (b_j + eps s_j) / (z_j + eps s_j).
            double leaving1 = Enumerable.Range(0, 2).Sum(j => (z[j] - B1[j]) * ra[j] / Stabilized(z[j]));

            Assert.Equal(["2", "1", "0"], report.Layers.Select(l => l.Name));
            LayerBalance second = report.Layers[0], relu = report.Layers[1], first = report.Layers[2];
            Assert.Equal(y, report.Target[0], 12);
            Assert.Equal(y, second.Entering[0], 12);
            Assert.Equal(ra.Sum(), second.Leaving[0], 12);
            Assert.Equal(y - ra.Sum(), second.Absorbed[0], 12);
            Assert.Equal("Pass", relu.Rule);
            Assert.Equal(0.0, relu.Absorbed[0], 15);
            Assert.Equal(ra.Sum(), first.Entering[0], 12);
            Assert.Equal(leaving1, first.Leaving[0], 12);
            Assert.Equal(ra.Sum() - leaving1, first.Absorbed[0], 12);
            Assert.Equal(leaving1, report.Input[0], 12);
            Assert.Equal(result.Relevance.sum().item<double>(), report.Input[0], 12);
            Assert.Equal(0.0, report.Unaccounted[0], 12);
            // The bias layer is the largest absorber.
            Assert.Equal("0", report.Absorbers(1).Single().Name);
        }
    }

    [Fact]
    public void ReportLeavesTheAttributionAndTheModelAsTheyWere()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("0", Linear(W1, B1)), ("1", nn.ReLU()), ("2", Linear(new[,] { { W2[0], W2[1] } }, null)));
        var attributor = new Gradient(model, EpsilonComposite(), AttributionTarget.ClassScore(0));
        using AttributionResult plain = attributor.Attribute(T(X, 1, 3));

        var (reported, _) = ConservationReport.Attribute(attributor, T(X, 1, 3));
        using (reported)
        using (AttributionResult after = attributor.Attribute(T(X, 1, 3)))
        {
            Assert.Equal(D(plain.Relevance), D(reported.Relevance));
            Assert.Equal(D(plain.Relevance), D(after.Relevance));
        }
    }

    /// <summary><c>second(2 * relu(first(x)))</c>: the scaling between the modules is no module.</summary>
    private sealed class ScaledBetween : nn.Module<Tensor, Tensor>
    {
        private readonly Linear first = Linear(W1, B1);
        private readonly ReLU relu = nn.ReLU();
        private readonly Linear second = Linear(new[,] { { W2[0], W2[1] } }, null);

        public ScaledBetween() : base(nameof(ScaledBetween)) => RegisterComponents();

        public override Tensor forward(Tensor input) => second.call(relu.call(first.call(input)).mul(Scalars.Of(2.0)));
    }

    [Fact]
    public void RelevanceCreatedBetweenModulesIsUnaccounted()
    {
        using var scope = NewDisposeScope();
        var (result, report) = ConservationReport.Attribute(new Gradient(new ScaledBetween(), EpsilonComposite()), T(X, 1, 3), AttributionTarget.ClassScore(0));
        using (result)
        {
            // The relevance leaving 'second' reaches 'relu' doubled: what second handed on was created a second time.
            LayerBalance second = report.Layers.Single(l => l.Name == "second");
            LayerBalance relu = report.Layers.Single(l => l.Name == "relu");
            Assert.Equal(2 * second.Leaving[0], relu.Entering[0], 12);
            Assert.Equal(-second.Leaving[0], report.Unaccounted[0], 12);
        }
    }

    [Fact]
    public void ModulesWithoutARuleAreObservedWithTheirGradient()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("0", Linear(W1, B1)), ("1", nn.ReLU()), ("drop", nn.Dropout(0.5)), ("2", Linear(new[,] { { W2[0], W2[1] } }, null)));
        model.eval();

        var (result, report) = ConservationReport.Attribute(new Gradient(model, new LayerMapComposite([(LayerTypes.Dense, new Epsilon(Eps))])),
            T(X.Concat(X.Select(v => -v)).ToArray(), 2, 3), AttributionTarget.ClassScore(0));
        using (result)
        {
            Assert.Equal(["2", "drop", "1", "0"], report.Layers.Select(l => l.Name));
            Assert.Equal("gradient", report.Layers[1].Rule);
            Assert.Equal("gradient", report.Layers[2].Rule);
            Assert.Contains("conservation (sample 0)", report.Format(0), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void OnlyOneBackwardPassCanBeReported()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("0", Linear(W1, B1)));

        Assert.Throws<NotSupportedException>(() => ConservationReport.Attribute(new SmoothGrad(model, EpsilonComposite()), T(X, 1, 3)));
    }
}
