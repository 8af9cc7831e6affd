using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Rules.RuleFixtures;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

public class StabilizerTests
{
    // Two samples of 2 x 3 values: positive, negative, exact zeros, tiny values on both sides of epsilon.
    private static readonly double[] Values =
    {
        0.5, -0.5, 0.0, 1e-3, -1e-3, 2.0,
        0.0, 0.0, -4.0, 3.0, 0.05, -0.02,
    };

    private static Tensor Input() => T(Values, 2, 2, 3);

    [Fact]
    public void EpsilonAddsEpsilonTimesSignWithSignOfZeroPositive()
    {
        using var scope = NewDisposeScope();
        Tensor result = new Stabilizer(0.1).Apply(Input());
        AssertClose(Values.Select(v => v + 0.1 * (v >= 0 ? 1 : -1)).ToArray(), result);
    }

    [Fact]
    public void ZeroEpsilonLeavesTheValuesAlone()
    {
        using var scope = NewDisposeScope();
        AssertClose(Values, new Stabilizer(0.0).Apply(Input()), 0.0);
    }

    [Fact]
    public void ClipRaisesTheMagnitudeToAtLeastEpsilonKeepingTheSign()
    {
        using var scope = NewDisposeScope();
        Tensor result = new Stabilizer(0.1, clip: true).Apply(Input());
        AssertClose(Values.Select(v => (v >= 0 ? 1 : -1) * Math.Max(Math.Abs(v), 0.1)).ToArray(), result);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NormScaleMultipliesEpsilonByTheRootMeanSquareOfEachSample(bool clip)
    {
        using var scope = NewDisposeScope();
        Tensor result = new Stabilizer(0.1, clip: clip, normScale: true).Apply(Input());
        var expected = new double[Values.Length];
        for (int n = 0; n < 2; n++)
        {
            double[] sample = Values[(n * 6)..((n + 1) * 6)];
            double epsilon = 0.1 * Math.Sqrt(sample.Sum(v => v * v) / sample.Length);
            for (int k = 0; k < 6; k++)
            {
                double v = sample[k], sign = v >= 0 ? 1 : -1;
                expected[n * 6 + k] = clip ? sign * Math.Max(Math.Abs(v), epsilon) : v + sign * epsilon;
            }
        }
        AssertClose(expected, result);
    }

    [Fact]
    public void CustomFunctionIsCalledOnTheDenominator()
    {
        using var scope = NewDisposeScope();
        Tensor result = Stabilizer.FromFunction(z => z.mul(Scalars.Of(2.0)).add(Scalars.Of(1.0), Scalars.One)).Apply(Input());
        AssertClose(Values.Select(v => 2 * v + 1).ToArray(), result);
    }

    [Fact]
    public void NegativeOrNaNEpsilonIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Stabilizer(-1e-6));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Stabilizer(double.NaN));
    }

    public static TheoryData<string> Variants => new() { "epsilon", "clip", "norm_scale", "custom" };

    [Theory]
    [MemberData(nameof(Variants))]
    public void EachVariantInsideTheEpsilonRule(string variant)
    {
        using var scope = NewDisposeScope();
        // The dense fixture's outputs include 0 and values below 0.6 in magnitude, so every variant changes them.
        Stabilizer stabilizer = variant switch
        {
            "epsilon" => new Stabilizer(0.6),
            "clip" => new Stabilizer(0.6, clip: true),
            "norm_scale" => new Stabilizer(0.6, normScale: true),
            _ => Stabilizer.FromFunction(z => (z.sign() * (z.abs().add(Scalars.Of(1.0), Scalars.One))).add(Scalars.Of(0.25), Scalars.One)),
        };
        Tensor relevance = RuleRelevance(Dense(), new Epsilon(stabilizer), DenseX(), DenseR());
        double[] expected = Hand.PerSample(DenseBatch, DenseInput, DenseSeed, (x, r, _) =>
        {
            double[] z = DenseMap().Forward(x);
            double rms = Math.Sqrt(z.Sum(v => v * v) / z.Length);
            Func<double, double> stab = variant switch
            {
                "epsilon" => v => v + 0.6 * (v >= 0 ? 1 : -1),
                "clip" => v => (v >= 0 ? 1 : -1) * Math.Max(Math.Abs(v), 0.6),
                "norm_scale" => v => v + 0.6 * rms * (v >= 0 ? 1 : -1),
                _ => v => Math.Sign(v) * (Math.Abs(v) + 1.0) + 0.25,
            };
            return Hand.Epsilon(DenseMap(), x, r, stab);
        });
        AssertClose(expected, relevance);
    }
}
