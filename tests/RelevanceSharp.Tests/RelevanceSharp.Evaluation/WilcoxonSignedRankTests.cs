using RelevanceSharp.Evaluation;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>The Wilcoxon signed-rank test against table values, an enumeration of sign patterns and hand-computed normal approximations.</summary>
public class WilcoxonSignedRankTests
{
    // Ten differences with sizes 1..10 (so ranks 1..10), negative at the given sizes.
    private static double[] TenWithNegative(params int[] negative) =>
        Enumerable.Range(1, 10).Select(size => negative.Contains(size) ? -size : (double)size).ToArray();

    [Theory]
    // Critical values of the two-sided test for n = 10 in the standard tables: T = 8 at 0.05 (P(T <= 8) = 25/1024),
    // T = 3 at 0.01 (5/1024); one more is no longer significant (T = 9: 33/1024; T = 4: 7/1024).
    [InlineData(new[] { 1, 3, 4 }, 8, 2 * 25 / 1024.0)]
    [InlineData(new[] { 1, 2, 6 }, 9, 2 * 33 / 1024.0)]
    [InlineData(new[] { 3 }, 3, 2 * 5 / 1024.0)]
    [InlineData(new[] { 4 }, 4, 2 * 7 / 1024.0)]
    public void TenPairsGiveTheTabulatedExactPValues(int[] negative, int minusRankSum, double p)
    {
        WilcoxonResult result = WilcoxonSignedRank.Test(TenWithNegative(negative));
        Assert.True(result.Exact);
        Assert.Equal(minusRankSum, result.MinusRankSum);
        Assert.Equal(55 - minusRankSum, result.PlusRankSum);
        Assert.Equal(p, result.PValue, 12);
        // The statistic is symmetric: flipping every sign gives the same two-sided p-value.
        Assert.Equal(p, WilcoxonSignedRank.Test(TenWithNegative(negative).Select(d => -d).ToArray()).PValue, 12);
    }

    [Fact]
    public void TheTableDecidesSignificanceAtTheCriticalValue()
    {
        Assert.True(WilcoxonSignedRank.Test(TenWithNegative(1, 3, 4)).PValue <= 0.05);
        Assert.True(WilcoxonSignedRank.Test(TenWithNegative(1, 2, 6)).PValue > 0.05);
    }

    [Fact]
    public void TiedSizesAreCountedExactlyOverAllSignPatterns()
    {
        // Sizes 1, 2, 2, 3, 5, 5, 5 have mean ranks 1, 2.5, 2.5, 4, 6, 6, 6.
        double[] differences = { 1, -2, 2, -3, 5, 5, -5 };
        double[] ranks = { 1, 2.5, 2.5, 4, 6, 6, 6 };
        double observed = ranks.Where((_, i) => differences[i] > 0).Sum();
        int below = 0, above = 0;
        for (int signs = 0; signs < 1 << ranks.Length; signs++)
        {
            double plus = ranks.Where((_, i) => (signs >> i & 1) == 1).Sum();
            below += plus <= observed ? 1 : 0;
            above += plus >= observed ? 1 : 0;
        }
        double expected = Math.Min(1, 2.0 * Math.Min(below, above) / (1 << ranks.Length));

        WilcoxonResult result = WilcoxonSignedRank.Test(differences);
        Assert.True(result.Exact);
        Assert.Equal(observed, result.PlusRankSum);
        Assert.Equal(expected, result.PValue, 12);
    }

    [Fact]
    public void ZeroDifferencesAreDropped()
    {
        // Without the zeros: sizes 1, 2, 3 with ranks 1, 2, 3; W+ = 1 + 2, W- = 3.
        WilcoxonResult result = WilcoxonSignedRank.Test(new[] { 0.0, 1, 0, 2, -3 });
        Assert.Equal((3, 2, 3.0, 3.0), (result.NonZero, result.Zeros, result.PlusRankSum, result.MinusRankSum));
        Assert.Equal(WilcoxonSignedRank.Test(new[] { 1.0, 2, -3 }).PValue, result.PValue);

        WilcoxonResult none = WilcoxonSignedRank.Test(new[] { 0.0, 0.0 });
        Assert.Equal((0, 2, 1.0), (none.NonZero, none.Zeros, none.PValue));
    }

    [Fact]
    public void LargeSamplesUseTheNormalApproximationWithContinuityCorrection()
    {
        // d = -1 .. -20, 21 .. 60: ranks are the sizes, W+ = 21 + ... + 60 = 1620, mean 60 * 61 / 4 = 915, variance
        // 60 * 61 * 121 / 24 = 18452.5, z = (1620 - 915 - 0.5) / sqrt(18452.5) = 5.18625 and p = 2 (1 - Phi(z)),
        // worked out independently (with another language's erfc) as 2.1457151868636e-07.
        double[] differences = Enumerable.Range(1, 60).Select(i => i <= 20 ? -i : (double)i).ToArray();
        WilcoxonResult result = WilcoxonSignedRank.Test(differences);
        Assert.False(result.Exact);
        Assert.Equal(1620, result.PlusRankSum);
        Assert.Equal(5.186249314645876, result.Z, 10);
        Assert.InRange(result.PValue / 2.1457151868636098e-07, 1 - 1e-9, 1 + 1e-9);
    }

    [Fact]
    public void TiesShrinkTheVarianceOfTheNormalApproximation()
    {
        // Sizes 1..30 twice each (mean ranks 2s - 0.5): 30 groups of two ties, sum(t^3 - t) / 48 = 30 * 6 / 48 = 3.75,
        // variance 18452.5 - 3.75 = 18448.75. Both copies of sizes 1..12 and one copy of each of 20..30 are negative:
        // W+ = 2 (sum over 13..19 of 2s - 0.5) + (sum over 20..30 of 2s - 0.5) = 441 + 544.5 = 985.5,
        // z = (985.5 - 915 - 0.5) / sqrt(18448.75) = 0.515365, p = 0.606298 (worked out independently).
        var differences = new List<double>();
        for (int size = 1; size <= 30; size++)
        {
            differences.Add(size <= 12 || size >= 20 ? -size : size);
            differences.Add(size <= 12 ? -size : size);
        }
        WilcoxonResult result = WilcoxonSignedRank.Test(differences);
        Assert.False(result.Exact);
        Assert.Equal(985.5, result.PlusRankSum);
        Assert.Equal(0.5153645801280609, result.Z, 10);
        Assert.Equal(0.606298278682815, result.PValue, 10);
    }

    [Fact]
    public void TheNormalTailMatchesKnownValues()
    {
        Assert.Equal(0.025, StandardNormal.UpperTail(1.959963984540054), 13);
        Assert.Equal(0.15729920705028513, StandardNormal.Erfc(1), 13);
        Assert.Equal(0.3085375387259869, StandardNormal.UpperTail(0.5), 13);
        Assert.InRange(StandardNormal.UpperTail(5) / 2.866515718791946e-07, 1 - 1e-12, 1 + 1e-12);
        Assert.Equal(1.0, StandardNormal.UpperTail(-40), 14);
    }

    [Fact]
    public void NonFiniteDifferencesAreRefused() =>
        Assert.Throws<ArgumentException>(() => WilcoxonSignedRank.Test(new[] { 1.0, double.NaN }));
}
