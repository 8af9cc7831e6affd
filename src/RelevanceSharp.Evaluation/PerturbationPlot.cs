using RelevanceSharp.Vision.Imaging;
using ScottPlot;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// Draws the mean perturbation curves of an evaluation under one baseline with ScottPlot: a panel for the
/// most-relevant-first order and one for the least-relevant-first order, each with one line per configuration
/// inside its 95% confidence band (mean ± 1.96 standard errors over the images) and a dashed black line for the
/// random-order control; the score against the fraction of patches perturbed.
/// </summary>
public static class PerturbationPlot
{
    private const string FontName = "RelevanceSharp Sans";

    // Normal quantile of a two-sided 95% band.
    private const double BandWidth = 1.959963984540054;

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

    /// <summary>Writes the plot of <paramref name="baseline"/> (an index into <see cref="EvaluationReport.Baselines"/>) as a PNG file.</summary>
    public static void SavePng(EvaluationReport report, string path, int baseline = 0, int width = 1500, int height = 600)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(path);
        Create(report, baseline).SavePng(path, width, height);
    }

    /// <summary>Builds the two panels (MoRF left, LeRF right) for one baseline.</summary>
    public static Multiplot Create(EvaluationReport report, int baseline = 0)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentOutOfRangeException.ThrowIfNegative(baseline);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(baseline, report.Baselines.Count);
        double[] fractions = report.FractionsPerturbed.ToArray();
        string score = report.Options.Perturbation.Score == PerturbationScore.Probability ? "probability" : "logit";
        var panels = new List<Plot>();
        foreach (bool morf in new[] { true, false })
        {
            Plot plot = NewPlot();
            var palette = new ScottPlot.Palettes.Category10();
            for (int c = 0; c < report.Configurations.Count; c++)
            {
                ConfigurationResult result = report.Configurations[c];
                PerturbationResult perturbation = result.PerBaseline[baseline];
                Curve(plot, fractions, (morf ? perturbation.MostRelevantFirst : perturbation.LeastRelevantFirst).MeanCurve, palette.GetColor(c), result.Config.Name);
            }
            var control = Curve(plot, fractions, report.Configurations[0].PerBaseline[baseline].Random.MeanCurve, Colors.Black, "random order");
            control.LinePattern = LinePattern.Dashed;
            plot.Title($"{(morf ? "Most" : "Least")} relevant first ({report.ImageNames.Count} images, baseline {report.Baselines[baseline]})");
            plot.XLabel($"fraction of patches perturbed ({report.Grid.PatchSize}x{report.Grid.PatchSize} pixels each)");
            plot.YLabel($"mean target {score} (95% band)");
            // One legend, where the LeRF curves leave room: top right.
            if (morf)
            {
                plot.HideLegend();
            }
            else
            {
                plot.ShowLegend(Alignment.UpperRight);
            }
            panels.Add(plot);
        }
        var multiplot = Panels(panels);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        return multiplot;
    }

    /// <summary>A multiplot of exactly the given panels (a new multiplot starts with an empty one of its own).</summary>
    internal static Multiplot Panels(IReadOnlyList<Plot> panels)
    {
        var multiplot = new Multiplot(panels[0]);
        foreach (Plot panel in panels.Skip(1))
        {
            multiplot.AddPlot(panel);
        }
        return multiplot;
    }

    /// <summary>A plot that draws its text with the system font (see <see cref="UseSystemFont"/>).</summary>
    internal static Plot NewPlot()
    {
        var plot = new Plot();
        UseSystemFont(plot);
        return plot;
    }

    // A mean curve with its band, in one colour; returns the line.
    private static ScottPlot.Plottables.Scatter Curve(Plot plot, double[] x, IReadOnlyList<MeanWithError> curve, Color color, string label)
    {
        double[] mean = curve.Select(m => m.Mean).ToArray();
        var band = plot.Add.FillY(x, curve.Select(m => m.Mean - BandWidth * m.StandardError).ToArray(),
            curve.Select(m => m.Mean + BandWidth * m.StandardError).ToArray());
        band.FillStyle.Color = color.WithAlpha(0.18);
        band.LineStyle.Width = 0;
        var line = plot.Add.ScatterLine(x, mean, color);
        line.LineWidth = 2;
        line.LegendText = label;
        return line;
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
