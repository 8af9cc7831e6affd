using System.Globalization;
using RelevanceSharp.Evaluation;

namespace RelevanceSharp.Cli.Reports;

/// <summary>
/// <c>report.html</c> of <c>relevance evaluate</c>: one page beside the plots and CSV files, with the setup, the tables
/// of every measure (sortable), the sanity lines, the plots, the paired comparisons as a sortable and filterable table,
/// the paired lines and the verdicts. The images are the plots in the same folder, by relative path.
/// </summary>
internal static class EvaluationHtml
{
    /// <summary>The report's file name.</summary>
    public const string FileName = "report.html";

    /// <summary>Writes <see cref="FileName"/> into <paramref name="folder"/>, where the report's plots are, and returns its path.</summary>
    /// <param name="folder">The evaluation's output folder.</param>
    /// <param name="report">The evaluation.</param>
    /// <param name="paired">Its paired comparisons.</param>
    /// <param name="setup">What was evaluated on what, one line (model and images).</param>
    /// <param name="accuracy">The line on the model's accuracy, or <c>null</c>.</param>
    public static string Write(string folder, EvaluationReport report, PairedAnalysis paired, string setup, string? accuracy)
    {
        var page = new HtmlPage($"relevance evaluate: {report.Configurations.Count} configurations on {report.ImageNames.Count} images");
        page.Paragraph(setup);
        page.Paragraph(report.Describe());
        if (accuracy is not null)
        {
            page.Paragraph(accuracy);
        }

        for (int b = 0; b < report.Baselines.Count; b++)
        {
            page.Heading($"Region perturbation, baseline {report.Baselines[b]}");
            var columns = new List<HtmlColumn> { new("configuration", "text") };
            columns.AddRange(FaithfulnessMeasures.All.Select(m => new HtmlColumn($"{m.Label()} ({Better(m)})", "number")));
            columns.Add(new("AOPC random", "number"));
            columns.Add(new("MoRF - random", "number"));
            int baseline = b;
            var rows = report.Configurations.Select(c => (IReadOnlyList<HtmlCell>)
            [
                HtmlCell.Text(c.Config.Name),
                .. FaithfulnessMeasures.All.Select(m => Summary(c.PerBaseline[baseline].Summary(m))),
                Summary(c.PerBaseline[baseline].Random.AopcSummary),
                Summary(c.PerBaseline[baseline].AopcDifference),
            ]).ToList();
            page.Table(new HtmlTable($"perturbation-{b}", columns, rows));
            page.Figure(HtmlPage.RelativeUrl(folder, Path.Combine(folder, report.PlotFileName(b))),
                $"Mean MoRF and LeRF curves with 95% bands, baseline {report.Baselines[b]}");
        }

        if (report.MeasuresWithoutBaseline is { Count: > 0 } measures)
        {
            page.Heading("Measures without baseline");
            var columns = new List<HtmlColumn> { new("configuration", "text") };
            columns.AddRange(measures.Select(m => new HtmlColumn($"{m.Label()} ({Better(m)})", "number")));
            var rows = report.Configurations.Select(c => (IReadOnlyList<HtmlCell>)
                [HtmlCell.Text(c.Config.Name), .. measures.Select(m => Summary(MeanWithError.Of(c.Scores(m)!)))]).ToList();
            page.Table(new HtmlTable("without-baseline", columns, rows));
        }

        if (report.Configurations.Any(c => c.Randomization is not null))
        {
            page.Heading("Parameter randomization");
            var rows = report.Configurations.Select(c => (IReadOnlyList<HtmlCell>)
            [
                HtmlCell.Text(c.Config.Name), Number(c.Randomization?.Final ?? double.NaN), Number(c.Randomization?.MeanOverSteps ?? double.NaN),
            ]).ToList();
            page.Table(new HtmlTable("randomization", [new("configuration", "text"), new("rand. rho (all)", "number"), new("rand. rho (mean)", "number")], rows));
        }

        page.Heading("Sanity");
        page.Preformatted(report.SanityCheck());

        if (paired.Results.Count > 0)
        {
            page.Heading($"Paired comparisons ({paired.Results.Count}; d > 0: B better; Holm's correction over all of them)");
            page.Figure(HtmlPage.RelativeUrl(folder, Path.Combine(folder, "paired.png")), "Mean paired differences with their bootstrap intervals");
            HtmlColumn[] columns =
            [
                new("A", "text"), new("B", "text"), new("measure", "text"), new("mean A", "number"), new("mean B", "number"),
                new("d (B better > 0)", "number"), new($"{paired.Settings.Level * 100:0.##}% CI"), new("Wilcoxon p", "number"), new("Holm p", "number"),
                new("B better", "number"),
            ];
            var rows = paired.Results.Select(r => (IReadOnlyList<HtmlCell>)
            [
                HtmlCell.Text(r.Pair.A), HtmlCell.Text(r.Pair.B), HtmlCell.Text(r.MeasureLabel), Number(r.MeanA), Number(r.MeanB), Number(r.MeanDifference),
                HtmlCell.Text(r.Interval.Format()), PValue(r.Wilcoxon.PValue), PValue(r.HolmP),
                HtmlCell.Text($"{r.BBetter}/{r.Differing}", r.Differing == 0 ? "0" : ((double)r.BBetter / r.Differing).ToString("R", CultureInfo.InvariantCulture)),
            ]).ToList();
            page.Table(new HtmlTable("pairs", columns, rows, "filter by configuration, measure or baseline"));
            page.Heading("Paired lines");
            page.Preformatted(paired.Lines());
            page.Heading("Verdicts");
            page.Preformatted(paired.Verdicts());
        }
        return page.Write(Path.Combine(folder, FileName));
    }

    private static string Better(FaithfulnessMeasure measure) => measure.HigherIsBetter() ? "higher better" : "lower better";

    private static HtmlCell Summary(MeanWithError value) =>
        HtmlCell.Text(value.Format(), value.Mean.ToString("R", CultureInfo.InvariantCulture));

    private static HtmlCell Number(double value) =>
        HtmlCell.Text(value.ToString("F3", CultureInfo.InvariantCulture), value.ToString("R", CultureInfo.InvariantCulture));

    private static HtmlCell PValue(double p) =>
        HtmlCell.Text(p < 1e-4 ? p.ToString("0.00e+0", CultureInfo.InvariantCulture) : p.ToString("0.0000", CultureInfo.InvariantCulture),
            p.ToString("R", CultureInfo.InvariantCulture));
}
