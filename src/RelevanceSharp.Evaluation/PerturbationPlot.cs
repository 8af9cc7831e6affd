using RelevanceSharp.Imaging;
using ScottPlot;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// Draws the mean perturbation curves of an evaluation with ScottPlot: one line per configuration for the
/// most-relevant-first order and a dashed black line for the random-order control, the score against the fraction of
/// patches perturbed.
/// </summary>
public static class PerturbationPlot
{
    private const string FontName = "RelevanceSharp Sans";

    // Registers the system font with ScottPlot once; its font registry is process-wide.
    private static readonly Lazy<bool> FontRegistered = new(() =>
    {
        string? file = ImageGrid.FindSystemFont();
        if (file is null)
        {
            return false;
        }
        ScottPlot.Fonts.AddFontFile(FontName, file);
        return true;
    });

    /// <summary>Writes the plot as a PNG file of <paramref name="width"/> x <paramref name="height"/> pixels.</summary>
    public static void SavePng(EvaluationReport report, string path, int width = 900, int height = 600)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(path);
        Plot plot = Create(report);
        plot.SavePng(path, width, height);
    }

    /// <summary>Builds the plot.</summary>
    public static Plot Create(EvaluationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var plot = new Plot();
        UseSystemFont(plot);
        double[] fractions = Enumerable.Range(0, report.Steps + 1).Select(k => (double)k / report.Grid.Count).ToArray();

        var palette = new ScottPlot.Palettes.Category10();
        for (int c = 0; c < report.Configurations.Count; c++)
        {
            ConfigurationResult result = report.Configurations[c];
            double[] mean = result.Perturbation.MostRelevantFirst.MeanCurve.Select(m => m.Mean).ToArray();
            var line = plot.Add.ScatterLine(fractions, mean, palette.GetColor(c));
            line.LineWidth = 2;
            line.LegendText = result.Config.Name;
        }
        double[] random = report.Random.MeanCurve.Select(m => m.Mean).ToArray();
        var control = plot.Add.ScatterLine(fractions, random, Colors.Black);
        control.LineWidth = 2;
        control.LinePattern = LinePattern.Dashed;
        control.LegendText = "random order";

        string score = report.Options.Perturbation.Score == PerturbationScore.Probability ? "probability" : "logit";
        plot.Title($"Region perturbation, most relevant first ({report.ImageNames.Count} images, baseline {report.Options.Perturbation.Baseline.Name})");
        plot.XLabel($"fraction of patches perturbed ({report.Grid.PatchSize}x{report.Grid.PatchSize} pixels each)");
        plot.YLabel($"mean target {score}");
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    // SkiaSharp's dependency-free Linux build has no font manager, so text would not be drawn with ScottPlot's
    // default family; a font file on the system (the one heatmap labels use) is registered and used instead.
    private static void UseSystemFont(Plot plot)
    {
        if (FontRegistered.Value)
        {
            plot.Font.Set(FontName);
        }
    }
}
