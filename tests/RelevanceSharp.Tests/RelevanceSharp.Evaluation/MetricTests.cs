using RelevanceSharp.Evaluation;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>Infidelity, max-sensitivity, sparseness and complexity against values worked out by hand.</summary>
public class MetricTests
{
    [Fact]
    public void InfidelityIsTheMeanSquaredMissOfTheScoreChange()
    {
        // u = [1, 2, -1] (attribution . perturbation), d = [2, 3, -1] (score change):
        //   plain: ((1-2)^2 + (2-3)^2 + (-1+1)^2) / 3 = 2/3;
        //   normalized: beta = sum(u d) / sum(u^2) = (2 + 6 + 1) / (1 + 4 + 1) = 1.5, and
        //   ((1.5-2)^2 + (3-3)^2 + (-1.5+1)^2) / 3 = 0.5 / 3, which Captum's expansion gives too:
        //   (beta^2 * 6 - 2 beta * 9 + 14) / 3 = (13.5 - 27 + 14) / 3.
        Assert.Equal(2.0 / 3, Infidelity.Value([1, 2, -1], [2, 3, -1], normalize: false), 15);
        Assert.Equal(0.5 / 3, Infidelity.Value([1, 2, -1], [2, 3, -1], normalize: true), 15);
        // An attribution orthogonal to every perturbation: beta = 0 / 1 (Captum's safe division), so the mean of d^2.
        Assert.Equal((4 + 9 + 1) / 3.0, Infidelity.Value([0, 0, 0], [2, 3, -1], normalize: true), 15);
    }

    [Fact]
    public void TheGradientOfALinearModelHasNoInfidelity()
    {
        // f(x) = w . x + b changes by exactly w . I when x becomes x - I, which the gradient w predicts: infidelity 0.
        // Twice the gradient misses by (w . I)^2 unless normalized (beta = 1/2 fits it exactly).
        using var scope = NewDisposeScope();
        var model = Linear(new double[,] { { 0.5, -1.0, 2.0 }, { 1.0, 1.0, 1.0 } }, [0.3, -0.2]);
        Tensor x = T([1.0, 2.0, 3.0, -1.0, 0.0, 0.5], 2, 3);
        Tensor gradient = T([0.5, -1.0, 2.0, 0.5, -1.0, 2.0], 2, 3);
        var settings = new InfidelitySettings { Samples = 6, NoiseScale = 0.3, Normalize = false, Seed = 1 };
        double[] plain = Infidelity.Compute(model, x, gradient, [0, 0], settings);
        // Zero up to rounding of the scores (about 1e-8 here, squared).
        Assert.True(plain.All(v => v < 1e-12), $"the gradient scored {string.Join(", ", plain)}");
        double[] doubled = Infidelity.Compute(model, x, gradient.mul(Scalars.Of(2)), [0, 0], settings);
        Assert.All(doubled, v => Assert.True(v > 1e-3, $"twice the gradient scored {v}"));
        AssertClose([0, 0], Infidelity.Compute(model, x, gradient.mul(Scalars.Of(2)), [0, 0], settings with { Normalize = true }), 1e-12);
    }

    [Fact]
    public void EachImagesPerturbationsDependOnlyOnItsIndex()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("0", Linear(new double[,] { { 0.5, -1.0 }, { 1.0, 2.0 } }, [0.1, 0.2])), ("1", nn.Tanh()));
        Tensor x = T([1.0, 2.0, -1.0, 0.5, 0.3, 0.3], 3, 2);
        Tensor a = T([0.2, 0.1, -0.3, 0.4, 1.0, 0.0], 3, 2);
        var settings = new InfidelitySettings { Samples = 4, Seed = 9 };
        double[] together = Infidelity.Compute(model, x, a, [1, 0, 1], settings);
        double[] last = Infidelity.Compute(model, x.narrow(0, 2, 1), a.narrow(0, 2, 1), [1], settings, firstImage: 2);
        Assert.Equal(together[2], last[0], 15);
        Assert.NotEqual(together[2], Infidelity.Compute(model, x.narrow(0, 2, 1), a.narrow(0, 2, 1), [1], settings)[0]);
    }

    [Fact]
    public void SensitivityIsTheLargestChangeRelativeToTheAttributionsNorm()
    {
        // An "attribution" that answers every perturbed input with a(x) + [3, 4]: each change has norm 5, and
        // ||a(x)|| = ||[6, 8]|| = 10, so 0.5. An all-zero attribution divides by 1 (Captum): 5.
        using var scope = NewDisposeScope();
        Tensor x = T([0.1, 0.2, 0.3, 0.4], 2, 2);
        Tensor a = T([6.0, 8.0, 0.0, 0.0], 2, 2);
        double[] result = SensitivityMax.Compute((inputs, _) => a.add(T([3.0, 4.0], 1, 2), Scalars.One), x, a, [0, 0], new SensitivitySettings { Samples = 3 });
        AssertClose([0.5, 5.0], result, 1e-15);
    }

    [Fact]
    public void SensitivityDrawsFromTheLInfinityBallAndKeepsTheMaximum()
    {
        // With a(x) = x the change is the perturbation itself, ||e|| / ||x||; every element of e lies in [-r, r], and
        // more samples (the first ones the same) can only raise the maximum.
        using var scope = NewDisposeScope();
        Tensor x = T(Values(200, 31).Select(v => v + 2).ToArray(), 2, 100);
        var seen = new List<double>();
        Tensor Identity(Tensor inputs, IReadOnlyList<long> targets)
        {
            seen.AddRange(D(inputs - x));
            return inputs.clone();
        }
        var settings = new SensitivitySettings { Samples = 4, Radius = 0.05, Seed = 2 };
        double[] four = SensitivityMax.Compute(Identity, x, x, [0, 0], settings);
        Assert.All(seen, e => Assert.InRange(e, -0.05, 0.05));
        Assert.True(seen.Min() < -0.045 && seen.Max() > 0.045, "the draws do not fill the ball");
        double[] norms = [.. Enumerable.Range(0, 2).Select(i => Math.Sqrt(D(x[i]).Sum(v => v * v)))];
        // Uniform elements in [-r, r] have mean square r^2 / 3: about 0.05 * sqrt(100 / 3) per unit of ||x||.
        for (int i = 0; i < 2; i++)
        {
            Assert.InRange(four[i] * norms[i], 0.05 * Math.Sqrt(100 / 3.0) * 0.8, 0.05 * Math.Sqrt(100 / 3.0) * 1.2);
        }
        double[] eight = SensitivityMax.Compute(Identity, x, x, [0, 0], settings with { Samples = 8 });
        Assert.All(Enumerable.Range(0, 2), i => Assert.True(eight[i] >= four[i]));
        double[] second = SensitivityMax.Compute(Identity, x.narrow(0, 1, 1), x.narrow(0, 1, 1), [0], settings, firstImage: 1);
        Assert.Equal(four[1], second[0], 15);
    }

    [Fact]
    public void SparsenessIsTheGiniIndexOfTheMagnitudes()
    {
        // Quantus: v = |a| / max|a| + 1e-7, sorted, Gini = sum_i (2i - n - 1) v_i / (n sum v).
        // [2, 2, 2, 2]: all equal, the weights -3, -1, 1, 3 cancel: 0.
        Assert.Equal(0, Sparseness.Gini([2, 2, 2, 2]), 15);
        // [0, 0, 0, 4]: v = [e, e, e, 1 + e], sum (2i - 5) v_i = -3e - e + e + 3(1 + e) = 3, n sum v = 4 (1 + 4e).
        Assert.Equal(3 / (4 * (1 + 4e-7)), Sparseness.Gini([0, 0, 0, 4]), 15);
        // [1, -2, 3, 0]: v = [e, 1/3 + e, 2/3 + e, 1 + e], sum (2i - 5) v_i = -1/3 + 2/3 + 3 = 10/3, n sum v = 4 (2 + 4e).
        Assert.Equal(10.0 / 3 / (4 * (2 + 4e-7)), Sparseness.Gini([1, -2, 3, 0]), 15);
        Assert.Equal(0, Sparseness.Gini([0, 0, 0]), 15);
        using var scope = NewDisposeScope();
        AssertClose([0, 3 / (4 * (1 + 4e-7))], Sparseness.Compute(T([2, 2, 2, 2, 0, 0, 0, 4], 2, 1, 2, 2)), 1e-15);
    }

    [Fact]
    public void ComplexityIsTheEntropyOfTheShares()
    {
        // [1, -1, 2, 0]: shares [1/4, 1/4, 1/2, 0], entropy -(2 * 1/4 ln 1/4 + 1/2 ln 1/2) = 1.5 ln 2.
        Assert.Equal(1.5 * Math.Log(2), Complexity.Entropy([1, -1, 2, 0]), 15);
        // Equal shares of four: ln 4; one element: 0; nothing at all counts as equal shares.
        Assert.Equal(Math.Log(4), Complexity.Entropy([-3, 3, 3, -3]), 15);
        Assert.Equal(0, Complexity.Entropy([0, 5, 0, 0]), 15);
        Assert.Equal(Math.Log(4), Complexity.Entropy([0, 0, 0, 0]), 15);
        using var scope = NewDisposeScope();
        AssertClose([1.5 * Math.Log(2), 0], Complexity.Compute(T([1, -1, 2, 0, 0, 5, 0, 0], 2, 4)), 1e-15);
    }

    [Theory]
    [InlineData(FaithfulnessMeasure.Infidelity, false)]
    [InlineData(FaithfulnessMeasure.SensitivityMax, false)]
    [InlineData(FaithfulnessMeasure.Sparseness, true)]
    [InlineData(FaithfulnessMeasure.Complexity, false)]
    public void EachMeasureSaysWhichWayIsBetter(FaithfulnessMeasure measure, bool higher)
    {
        Assert.Equal(higher, measure.HigherIsBetter());
        Assert.False(measure.UsesBaseline());
        Assert.Contains(measure, FaithfulnessMeasures.WithoutBaseline);
    }
}
