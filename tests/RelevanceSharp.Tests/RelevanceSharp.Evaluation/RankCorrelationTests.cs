using RelevanceSharp.Evaluation;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>Average ranks, Pearson and Spearman against values worked out by hand.</summary>
public class RankCorrelationTests
{
    [Fact]
    public void TiesShareTheMeanOfTheirRanks()
    {
        Assert.Equal(new[] { 1.0, 2.5, 2.5, 4.0 }, RankCorrelation.Ranks(new[] { 10.0, 20.0, 20.0, 30.0 }));
        Assert.Equal(new[] { 3.0, 1.0, 3.0, 3.0, 5.0 }, RankCorrelation.Ranks(new[] { 7.0, -1.0, 7.0, 7.0, 9.0 }));
        Assert.Equal(new[] { 2.0, 2.0, 2.0 }, RankCorrelation.Ranks(new[] { 4.0, 4.0, 4.0 }));
    }

    [Fact]
    public void SpearmanWithTiesMatchesTheHandComputation()
    {
        // Ranks of x: 1, 2.5, 2.5, 4, 5; ranks of y: 2, 1, 3.5, 3.5, 5. Both have mean 3; the deviations give
        // sum dx*dy = 2 + 1 - 0.25 + 0.5 + 4 = 7.25 and sum dx^2 = sum dy^2 = 9.5, so rho = 7.25 / 9.5 = 29/38.
        double[] x = { 1, 2, 2, 3, 5 };
        double[] y = { 2, 1, 4, 4, 6 };
        Assert.Equal(29.0 / 38.0, RankCorrelation.Spearman(x, y), 12);
        Assert.Equal(29.0 / 38.0, RankCorrelation.Spearman(y, x), 12);
    }

    [Fact]
    public void SpearmanSeesOnlyTheOrder()
    {
        double[] x = { 0.1, 5, -3, 2, 8 };
        Assert.Equal(1.0, RankCorrelation.Spearman(x, x.Select(v => Math.Exp(v)).ToArray()), 12);
        Assert.Equal(-1.0, RankCorrelation.Spearman(x, x.Select(v => -v * v * v).ToArray()), 12);
    }

    [Fact]
    public void PearsonOfAConstantSeriesIsUndefined()
    {
        Assert.True(double.IsNaN(RankCorrelation.Pearson(new[] { 1.0, 1.0, 1.0 }, new[] { 1.0, 2.0, 3.0 })));
        Assert.True(double.IsNaN(RankCorrelation.Spearman(new[] { 2.0 }, new[] { 3.0 })));
        Assert.Equal(1.0, RankCorrelation.Pearson(new[] { 1.0, 2.0, 3.0 }, new[] { 2.0, 4.0, 6.0 }), 12);
    }

    [Fact]
    public void BadSeriesAreRefused()
    {
        Assert.Throws<ArgumentException>(() => RankCorrelation.Spearman(new[] { 1.0, 2.0 }, new[] { 1.0 }));
        Assert.Throws<ArgumentException>(() => RankCorrelation.Ranks(new[] { 1.0, double.NaN }));
    }

    [Fact]
    public void MeanWithErrorUsesTheSampleStandardDeviation()
    {
        // Values 1..4: mean 2.5, sample variance 5/3, standard error sqrt(5/3) / 2.
        MeanWithError summary = MeanWithError.Of(new[] { 1.0, 2.0, 3.0, 4.0, double.NaN });
        Assert.Equal(2.5, summary.Mean, 12);
        Assert.Equal(Math.Sqrt(5.0 / 3.0) / 2.0, summary.StandardError, 12);
        Assert.Equal(4, summary.Count);
        Assert.Equal(0.0, MeanWithError.Of(new[] { 7.0 }).StandardError);
        Assert.True(double.IsNaN(MeanWithError.Of(Array.Empty<double>()).Mean));
    }
}
