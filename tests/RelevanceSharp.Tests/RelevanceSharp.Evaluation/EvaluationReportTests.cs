using RelevanceSharp.Evaluation;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>The report's measures, sanity check and labels, on reports with scores set by hand.</summary>
public class EvaluationReportTests
{
    private static readonly string[] OneBaseline = ["zeros"];

    [Fact]
    public void TheMeasuresAreTheAopcsAndTheirDifference()
    {
        EvaluationReport report = HandReports.Build(OneBaseline, ("gradient", [new([3, 5], [1, 4])]));
        PerturbationResult result = report.Configurations[0].Perturbation;
        Assert.Equal(new[] { 3.0, 5.0 }, result.Scores(FaithfulnessMeasure.MorfAopc));
        Assert.Equal(new[] { 1.0, 4.0 }, result.Scores(FaithfulnessMeasure.LerfAopc));
        Assert.Equal(new[] { 2.0, 1.0 }, result.Scores(FaithfulnessMeasure.Abpc));
        Assert.Equal(1.5, result.Summary(FaithfulnessMeasure.Abpc).Mean, 12);
        Assert.False(FaithfulnessMeasure.LerfAopc.HigherIsBetter());
        Assert.True(FaithfulnessMeasure.MorfAopc.HigherIsBetter() && FaithfulnessMeasure.Abpc.HigherIsBetter());
    }

    [Fact]
    public void TheRandomAttributionMustRankLastUnderEveryMeasure()
    {
        // random: MoRF 2, LeRF 2, ABPC 0. epsilon_plus_flat beats it everywhere.
        EvaluationReport fine = HandReports.Build(OneBaseline,
            ("epsilon_plus_flat", [new([4, 4], [1, 1])]),
            ("random", [new([2, 2], [2, 2])]));
        Assert.Equal(new[] { "sanity: the random attribution ranks last under every faithfulness measure and baseline." }, fine.SanityCheck());

        // gradient: MoRF 1 (below 2), LeRF 3 (above 2), ABPC -2 (below 0): worse under all three measures.
        EvaluationReport failing = HandReports.Build(OneBaseline,
            ("epsilon_plus_flat", [new([4, 4], [1, 1])]),
            ("gradient", [new([1, 1], [3, 3])]),
            ("random", [new([2, 2], [2, 2])]));
        IReadOnlyList<string> lines = failing.SanityCheck();
        Assert.Equal(3, lines.Count);
        Assert.Equal("sanity: the random attribution does not rank last under AOPC (MoRF), baseline zeros: gradient (1.000) does worse than random (2.000; higher is better).", lines[0]);
        Assert.Contains("AOPC (LeRF), baseline zeros: gradient (3.000) does worse than random (2.000; lower is better)", lines[1], StringComparison.Ordinal);
        Assert.Contains("ABPC, baseline zeros: gradient (-2.000)", lines[2], StringComparison.Ordinal);

        Assert.Empty(HandReports.Build(OneBaseline, ("gradient", [new([1, 1], [3, 3])])).SanityCheck());

        // Infidelity counts too (lower is better); sparseness and complexity do not.
        EvaluationReport unfaithful = HandReports.WithMetrics(fine,
            new AttributionMetrics([0, 0], [9, 9]) { Infidelity = [5, 5] },
            new AttributionMetrics([0.5, 0.5], [1, 1]) { Infidelity = [3, 3] });
        Assert.Equal(["sanity: the random attribution does not rank last under infidelity: epsilon_plus_flat (5.000) does worse than random (3.000; lower is better)."],
            unfaithful.SanityCheck());
    }

    [Fact]
    public void LabelsGoIntoThePerImageFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "rs-per-image-" + Guid.NewGuid().ToString("N") + ".csv");
        try
        {
            EvaluationReport report = HandReports.Build(OneBaseline, ("gradient", [new([3, 5], [1, 4])])).WithLabels([7, 2]);
            report.WritePerImageCsv(path);
            string[] rows = File.ReadAllLines(path);
            Assert.Equal(new[] { "image 0,7,0,gradient,zeros,3,1,2,0", "image 1,2,0,gradient,zeros,5,4,1,0" }, rows[1..]);
            Assert.Throws<ArgumentException>(() => report.WithLabels([1]));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
