using ScottPlot;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// Draws the paired comparisons of a <see cref="PairedAnalysis"/> with ScottPlot: one panel per measure, one above
/// the other, one row per pair, and per baseline a point at the mean difference with a bar for its bootstrap
/// interval. Right of the dashed zero line B is more faithful, left A.
/// </summary>
public static class PairedDifferencePlot
{
    /// <summary>Writes the plot as a PNG file; the height grows with the number of pairs.</summary>
    public static void SavePng(PairedAnalysis analysis, string path, int width = 1400)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        ArgumentNullException.ThrowIfNull(path);
        int pairs = analysis.Results.Select(r => r.Pair).Distinct().Count();
        Create(analysis).SavePng(path, width, Measures(analysis).Count * (110 + 34 * Math.Max(pairs, 1)));
    }

    /// <summary>Builds the panels.</summary>
    public static Multiplot Create(PairedAnalysis analysis)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        ConfigurationPair[] pairs = analysis.Results.Select(r => r.Pair).Distinct().ToArray();
        var panels = new List<Plot>();
        var palette = new ScottPlot.Palettes.Category10();
        // The first pair on top.
        double[] rows = Enumerable.Range(0, pairs.Length).Select(p => (double)(pairs.Length - 1 - p)).ToArray();
        double spread = analysis.Baselines.Count > 1 ? 0.5 / analysis.Baselines.Count : 0;
        foreach (FaithfulnessMeasure measure in Measures(analysis))
        {
            Plot plot = PerturbationPlot.NewPlot();
            plot.Add.VerticalLine(0, 1, Colors.Gray, LinePattern.Dashed);
            // A measure without baseline has one point per pair, in the colour after the baselines'.
            IReadOnlyList<string> baselines = measure.UsesBaseline() ? analysis.Baselines : [PairedAnalysis.NoBaseline];
            for (int b = 0; b < baselines.Count; b++)
            {
                Color color = palette.GetColor(measure.UsesBaseline() ? b : analysis.Baselines.Count);
                double offset = (b - (baselines.Count - 1) / 2.0) * (measure.UsesBaseline() ? spread : 0);
                foreach (PairedResult result in analysis.Results.Where(r => r.Measure == measure && r.Baseline == baselines[b]))
                {
                    double y = rows[Array.IndexOf(pairs, result.Pair)] - offset;
                    var bar = plot.Add.Line(result.Interval.Low, y, result.Interval.High, y);
                    bar.LineColor = color;
                    bar.LineWidth = 2;
                    plot.Add.Marker(result.MeanDifference, y, MarkerShape.FilledCircle, 7, color);
                }
                var key = plot.Add.Marker(double.NaN, double.NaN, MarkerShape.FilledCircle, 7, color);
                key.LegendText = measure.UsesBaseline() ? $"baseline {baselines[b]}" : "no baseline";
            }
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(rows, pairs.Select(p => p.ToString()).ToArray());
            plot.Axes.SetLimitsY(-0.7, pairs.Length - 0.3);
            plot.Title(measure.Label());
            plot.XLabel($"mean difference, B better > 0 ({analysis.Settings.Level * 100:0.##}% bootstrap CI)");
            // Beside every panel, where it covers no interval and takes the same width from each, so the panels stay aligned.
            plot.ShowLegend(Edge.Right);
            panels.Add(plot);
        }
        var multiplot = PerturbationPlot.Panels(panels);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Rows();
        return multiplot;
    }

    // The measures the analysis compared, in the order of the enumeration.
    private static IReadOnlyList<FaithfulnessMeasure> Measures(PairedAnalysis analysis) =>
        analysis.Results.Select(r => r.Measure).Distinct().Order().DefaultIfEmpty(FaithfulnessMeasure.MorfAopc).ToList();
}
