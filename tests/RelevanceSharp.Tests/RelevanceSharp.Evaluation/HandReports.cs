using RelevanceSharp.Attribution;
using RelevanceSharp.Evaluation;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>
/// Evaluation reports made from chosen per-image scores, without a model: with one perturbation step, a curve
/// <c>[10, 10 - 2a]</c> has AOPC <c>a</c>, so every measure of every image can be set by hand.
/// </summary>
internal static class HandReports
{
    /// <summary>Per-image AOPC under MoRF and under LeRF of one configuration under one baseline.</summary>
    public sealed record Scores(double[] Morf, double[] Lerf);

    /// <summary>A report of the given configurations (name, then its scores per baseline).</summary>
    public static EvaluationReport Build(string[] baselines, params (string Config, Scores[] PerBaseline)[] configs)
    {
        int images = configs[0].PerBaseline[0].Morf.Length;
        PerturbationCurves Curves(double[] aopc) => new(aopc.Select(a => new[] { 10.0, 10.0 - 2 * a }));
        var random = Curves(new double[images]);
        var results = configs.Select(c => new ConfigurationResult(AttributionSpec.Parse(c.Config),
            c.PerBaseline.Select((s, b) => new PerturbationResult(Curves(s.Morf), Curves(s.Lerf), random, baselines[b])).ToArray(),
            null, TimeSpan.Zero)).ToList();
        return new EvaluationReport(results, new PatchGrid(2, 2, 2), new EvaluationOptions { Randomization = null },
            Enumerable.Range(0, images).Select(i => $"image {i}").ToArray(), new long[images]);
    }

    /// <summary>The same report with the given measures without baseline, per configuration in order.</summary>
    public static EvaluationReport WithMetrics(EvaluationReport report, params AttributionMetrics[] metrics) =>
        new(report.Configurations.Select((c, i) => c with { Metrics = metrics[i] }).ToList(), report.Grid, report.Options, report.ImageNames, report.Targets);
}
