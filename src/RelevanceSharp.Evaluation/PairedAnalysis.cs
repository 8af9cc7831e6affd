using System.Globalization;
using System.Text;
using RelevanceSharp.Attribution;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// Two configurations to compare image by image: <see cref="A"/> the reference, <see cref="B"/> the candidate.
/// Differences are taken so that a positive one means B is more faithful.
/// </summary>
/// <param name="A">The reference configuration's name (as <see cref="AttributionSpec.Name"/> writes it).</param>
/// <param name="B">The candidate configuration's name.</param>
public sealed record ConfigurationPair(string A, string B)
{
    /// <summary>The canonizer whose effect the default pairs measure first.</summary>
    public const string SeqThresh = "densenet_seq_thresh";

    /// <summary>The other order of the DenseNet canonizer's merges.</summary>
    public const string ThreshSeq = "densenet_thresh_seq";

    /// <summary>Reads <c>A vs B</c>; both sides are read as configurations (<see cref="AttributionSpec.Parse"/>).</summary>
    /// <exception cref="ArgumentException">The text is not two configurations separated by <c> vs </c>.</exception>
    public static ConfigurationPair Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] sides = text.Split(" vs ", StringSplitOptions.TrimEntries);
        if (sides.Length != 2 || sides[0].Length == 0 || sides[1].Length == 0)
        {
            throw new ArgumentException($"A pair is written 'A vs B' (two configurations); got '{text}'.");
        }
        string a = AttributionSpec.Parse(sides[0]).Name, b = AttributionSpec.Parse(sides[1]).Name;
        if (a == b)
        {
            throw new ArgumentException($"The pair '{text}' compares {a} with itself.");
        }
        return new ConfigurationPair(a, b);
    }

    /// <summary>
    /// The pairs compared when none are asked for, among <paramref name="configs"/>: each composite without a
    /// canonizer against the same composite with <see cref="SeqThresh"/>; each composite with <see cref="SeqThresh"/>
    /// against the same with <see cref="ThreshSeq"/>; the plain gradient against every other configuration (except
    /// the uniform-noise control). A pair is listed when both of its configurations are present.
    /// </summary>
    public static IReadOnlyList<ConfigurationPair> Defaults(IReadOnlyList<AttributionSpec> configs)
    {
        ArgumentNullException.ThrowIfNull(configs);
        var names = configs.Select(c => c.Name).ToHashSet();
        var pairs = new List<ConfigurationPair>();
        void AddCanonizerPairs(IReadOnlyList<string> from, string to)
        {
            foreach (AttributionSpec config in configs.Where(c => c.Composite is not null && c.Canonizers.SequenceEqual(from)))
            {
                string other = config.WithCanonizers([to]).Name;
                if (names.Contains(other))
                {
                    pairs.Add(new ConfigurationPair(config.Name, other));
                }
            }
        }
        AddCanonizerPairs([], SeqThresh);
        AddCanonizerPairs([SeqThresh], ThreshSeq);
        AttributionSpec? gradient = configs.FirstOrDefault(c => c.Name == Gradient.Entry.Name);
        if (gradient is not null)
        {
            pairs.AddRange(configs.Where(c => c != gradient && !UniformNoiseAttribution.IsControl(c)).Select(c => new ConfigurationPair(gradient.Name, c.Name)));
        }
        return pairs.Distinct().ToList();
    }

    /// <inheritdoc />
    public override string ToString() => $"{A} vs {B}";
}

/// <summary>Settings of <see cref="PairedAnalysis"/>.</summary>
public sealed record PairedSettings
{
    /// <summary>Bootstrap resamples per comparison.</summary>
    public int Resamples { get; init; } = Bootstrap.DefaultResamples;

    /// <summary>Confidence level of the bootstrap intervals.</summary>
    public double Level { get; init; } = 0.95;

    /// <summary>Seed of the bootstrap (each comparison derives its own from it and its name).</summary>
    public long Seed { get; init; }

    /// <summary>Significance level the verdicts apply to the Holm-adjusted p-values.</summary>
    public double Alpha { get; init; } = 0.05;
}

/// <summary>
/// One paired comparison: two configurations, one measure, one baseline, over the same images. The difference of an
/// image is B's score minus A's when higher is better (AOPC under MoRF, ABPC, sparseness) and A's minus B's when lower is
/// better (AOPC under LeRF, infidelity, max-sensitivity, complexity), so a positive difference always means B is better
/// (more faithful, more robust, sparser or less complex) on that image.
/// </summary>
/// <param name="Pair">The configurations.</param>
/// <param name="Measure">The measure compared.</param>
/// <param name="Baseline">The baseline's name; <see cref="PairedAnalysis.NoBaseline"/> for a measure that needs none.</param>
/// <param name="MeanA">A's mean score.</param>
/// <param name="MeanB">B's mean score.</param>
/// <param name="MeanDifference">The mean of the per-image differences (positive: B more faithful).</param>
/// <param name="Interval">Percentile bootstrap interval of <see cref="MeanDifference"/>.</param>
/// <param name="Wilcoxon">Wilcoxon signed-rank test of the differences.</param>
/// <param name="BBetter">Images where B is more faithful.</param>
/// <param name="ABetter">Images where A is more faithful.</param>
/// <param name="Images">All images compared (ties included).</param>
/// <param name="HolmP">The Wilcoxon p-value after Holm's correction over all comparisons of the analysis.</param>
public sealed record PairedResult(ConfigurationPair Pair, FaithfulnessMeasure Measure, string Baseline, double MeanA, double MeanB,
    double MeanDifference, ConfidenceInterval Interval, WilcoxonResult Wilcoxon, int BBetter, int ABetter, int Images, double HolmP)
{
    /// <summary>Images where the two differ (the others are ties).</summary>
    public int Differing => BBetter + ABetter;

    /// <summary>The measure and baseline as the line names them: <c>AOPC (MoRF, zeros)</c>, <c>ABPC (blur(sigma=2))</c>.</summary>
    public string MeasureLabel => Measure switch
    {
        FaithfulnessMeasure.MorfAopc => $"AOPC (MoRF, {Baseline})",
        FaithfulnessMeasure.LerfAopc => $"AOPC (LeRF, {Baseline})",
        FaithfulnessMeasure.Abpc => $"ABPC ({Baseline})",
        _ => Measure.Label(),
    };

    /// <summary>
    /// The measure as the <c>paired:</c> line names it: <c>AOPC</c> (under MoRF, the issue's and the literature's plain
    /// AOPC), <c>LeRF AOPC</c> or <c>ABPC</c>. The baseline heads each group of lines (<see cref="PairedAnalysis.Lines"/>).
    /// </summary>
    public string LineMeasure => Measure switch
    {
        FaithfulnessMeasure.MorfAopc => "AOPC",
        FaithfulnessMeasure.LerfAopc => "LeRF AOPC",
        FaithfulnessMeasure.Abpc => "ABPC",
        _ => Measure.Label(),
    };

    /// <summary>
    /// The one-line summary: <c>paired: A vs B: mean difference in AOPC = d [lo, hi] (95% bootstrap CI), Wilcoxon p
    /// = p, B better on k of n, n = N</c>, with n the images where the two differ and N all images (the measure is
    /// <see cref="LineMeasure"/>, the baseline that of the group the line stands in).
    /// </summary>
    public string Format() => string.Create(CultureInfo.InvariantCulture,
        $"paired: {Pair}: mean difference in {LineMeasure} = {MeanDifference:F3} {Interval.Format()} ({Interval.Level * 100:0.##}% bootstrap CI), " +
        $"Wilcoxon p = {TextTables.PValue(Wilcoxon.PValue)}, B better on {BBetter} of {Differing}, n = {Images}");
}

/// <summary>
/// Paired comparisons of the configurations of an <see cref="EvaluationReport"/>: for every pair, measure and
/// baseline, the mean per-image difference with its percentile bootstrap interval, the Wilcoxon signed-rank test
/// and the count of images each side wins; the p-values are corrected with Holm's method over all comparisons.
/// </summary>
public sealed class PairedAnalysis
{
    private PairedAnalysis(IReadOnlyList<PairedResult> results, PairedSettings settings, IReadOnlyList<string> baselines)
    {
        Results = results;
        Settings = settings;
        Baselines = baselines;
    }

    /// <summary>Every comparison: by pair, then measure, then baseline.</summary>
    public IReadOnlyList<PairedResult> Results { get; }

    /// <summary>The settings used.</summary>
    public PairedSettings Settings { get; }

    /// <summary>The baselines compared under.</summary>
    public IReadOnlyList<string> Baselines { get; }

    /// <summary>The baseline of the comparisons of measures that need none (<see cref="FaithfulnessMeasures.WithoutBaseline"/>): empty.</summary>
    public const string NoBaseline = "";

    /// <summary>
    /// Compares every pair under every measure of <paramref name="report"/>: region perturbation's under every baseline, the
    /// measures without baseline once (<see cref="PairedResult.Baseline"/> is <see cref="NoBaseline"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A pair names a configuration the report does not hold.</exception>
    public static PairedAnalysis Run(EvaluationReport report, IReadOnlyList<ConfigurationPair> pairs, PairedSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(pairs);
        settings ??= new PairedSettings();
        var raw = new List<PairedResult>();
        foreach (ConfigurationPair pair in pairs)
        {
            ConfigurationResult a = Find(report, pair, pair.A), b = Find(report, pair, pair.B);
            foreach (FaithfulnessMeasure measure in FaithfulnessMeasures.All)
            {
                for (int k = 0; k < report.Baselines.Count; k++)
                {
                    raw.Add(Compare(pair, measure, report.Baselines[k], a.PerBaseline[k].Scores(measure), b.PerBaseline[k].Scores(measure), settings));
                }
            }
            foreach (FaithfulnessMeasure measure in report.MeasuresWithoutBaseline)
            {
                raw.Add(Compare(pair, measure, NoBaseline, a.Scores(measure)!, b.Scores(measure)!, settings));
            }
        }
        double[] holm = HolmCorrection.Adjust(raw.Select(r => r.Wilcoxon.PValue).ToArray());
        return new PairedAnalysis(raw.Select((r, i) => r with { HolmP = holm[i] }).ToList(), settings, report.Baselines);
    }

    /// <summary>
    /// Compares two configurations' per-image scores (of the same images, in the same order) under one measure;
    /// <see cref="PairedResult.HolmP"/> is the raw p-value until a correction is applied.
    /// </summary>
    public static PairedResult Compare(ConfigurationPair pair, FaithfulnessMeasure measure, string baseline, IReadOnlyList<double> scoresA,
        IReadOnlyList<double> scoresB, PairedSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(pair);
        ArgumentNullException.ThrowIfNull(scoresA);
        ArgumentNullException.ThrowIfNull(scoresB);
        settings ??= new PairedSettings();
        if (scoresA.Count != scoresB.Count || scoresA.Count == 0)
        {
            throw new ArgumentException($"Paired scores need the same images on both sides; got {scoresA.Count} and {scoresB.Count}.");
        }
        double sign = measure.HigherIsBetter() ? 1 : -1;
        double[] differences = scoresA.Zip(scoresB, (a, b) => sign * (b - a)).ToArray();
        ulong seed = Seeds.Derive(settings.Seed, Seeds.Hash($"{pair}|{measure.Key()}|{baseline}"));
        ConfidenceInterval interval = Bootstrap.MeanInterval(differences, settings.Resamples, settings.Level, seed);
        WilcoxonResult wilcoxon = WilcoxonSignedRank.Test(differences);
        return new PairedResult(pair, measure, baseline, scoresA.Average(), scoresB.Average(), differences.Average(), interval, wilcoxon,
            differences.Count(d => d > 0), differences.Count(d => d < 0), differences.Length, wilcoxon.PValue);
    }

    /// <summary>
    /// The <c>paired:</c> line of every comparison (<see cref="PairedResult.Format"/>), grouped by baseline and
    /// measure, each baseline's group headed by a line <c>under baseline NAME:</c>.
    /// </summary>
    public IReadOnlyList<string> Lines()
    {
        var lines = new List<string>();
        string? baseline = null;
        foreach (PairedResult result in Ordered())
        {
            if (result.Baseline != baseline)
            {
                baseline = result.Baseline;
                lines.Add(baseline == NoBaseline ? "without baseline:" : $"under baseline {baseline}:");
            }
            lines.Add(result.Format());
        }
        return lines;
    }

    /// <summary>
    /// Every comparison as an aligned table: pair, measure and baseline, both means, the mean difference with its
    /// interval, the raw and the Holm-corrected Wilcoxon p-value, and the images B wins.
    /// </summary>
    public string FormatTable()
    {
        var rows = new List<string[]>
        {
            new[] { "pair (A vs B)", "measure", "mean A", "mean B", "d (B better > 0)", $"{Settings.Level * 100:0.##}% CI", "Wilcoxon p", "Holm p", "B better" },
        };
        rows.AddRange(Ordered().Select(r => new[]
        {
            r.Pair.ToString(), r.MeasureLabel, TextTables.Number(r.MeanA), TextTables.Number(r.MeanB), TextTables.Number(r.MeanDifference),
            r.Interval.Format(), TextTables.PValue(r.Wilcoxon.PValue), TextTables.PValue(r.HolmP), $"{r.BBetter}/{r.Differing}",
        }));
        return TextTables.Format(rows);
    }

    /// <summary>
    /// One line per pair and measure: which configuration is more faithful under each baseline (a Holm-corrected
    /// p-value at most <see cref="PairedSettings.Alpha"/> and the sign of the difference), and whether that verdict is
    /// the same under every baseline.
    /// </summary>
    public IReadOnlyList<string> Verdicts()
    {
        var lines = new List<string>();
        foreach (var group in Results.GroupBy(r => (r.Pair, r.Measure)))
        {
            var outcomes = group.Select(r => (Result: r, Winner: Winner(r))).ToList();
            string parts = string.Join("; ", outcomes.Select(o => string.Create(CultureInfo.InvariantCulture,
                $"{(o.Result.Baseline == NoBaseline ? "" : $"under {o.Result.Baseline}: ")}" +
                $"{(o.Winner is null ? "no significant difference" : $"{o.Winner} {group.Key.Measure.Better()}")} " +
                $"(d = {o.Result.MeanDifference:+0.000;-0.000;0.000} {o.Result.Interval.Format()}, Holm p = {TextTables.PValue(o.Result.HolmP)})")));
            bool same = outcomes.Select(o => o.Winner).Distinct().Count() == 1;
            string holds = outcomes.Count == 1 ? "" : same ? $" The verdict holds under {(outcomes.Count == 2 ? "both" : "all")} baselines." : " The verdict differs between the baselines.";
            lines.Add($"verdict: {group.Key.Pair}, {group.Key.Measure.Label()}: {parts}.{holds}");
        }
        return lines;
    }

    /// <summary>
    /// Writes every comparison as CSV: <c>a, b, measure, baseline, higher_is_better, mean_a, mean_b,
    /// mean_difference, ci_low, ci_high, ci_level, wilcoxon_w_plus, wilcoxon_w_minus, wilcoxon_exact, wilcoxon_z,
    /// wilcoxon_p, holm_p, b_better, a_better, ties, n</c> (the difference positive when B is more faithful).
    /// </summary>
    public void WriteCsv(string path)
    {
        var csv = new StringBuilder("a,b,measure,baseline,higher_is_better,mean_a,mean_b,mean_difference,ci_low,ci_high,ci_level," +
            "wilcoxon_w_plus,wilcoxon_w_minus,wilcoxon_exact,wilcoxon_z,wilcoxon_p,holm_p,b_better,a_better,ties,n\n");
        foreach (PairedResult r in Ordered())
        {
            TextTables.CsvRow(csv, r.Pair.A, r.Pair.B, r.Measure.Key(), r.Baseline, r.Measure.HigherIsBetter() ? "true" : "false", r.MeanA, r.MeanB,
                r.MeanDifference, r.Interval.Low, r.Interval.High, r.Interval.Level, r.Wilcoxon.PlusRankSum, r.Wilcoxon.MinusRankSum,
                r.Wilcoxon.Exact ? "true" : "false", r.Wilcoxon.Z, r.Wilcoxon.PValue, r.HolmP, r.BBetter, r.ABetter, r.Images - r.Differing, r.Images);
        }
        File.WriteAllText(path, csv.ToString());
    }

    /// <summary>Writes <c>pairs.csv</c> and <c>paired.png</c> into <paramref name="folder"/>, creating it; returns the paths.</summary>
    public IReadOnlyList<string> WriteAll(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        Directory.CreateDirectory(folder);
        string csv = Path.Combine(folder, "pairs.csv");
        WriteCsv(csv);
        string plot = Path.Combine(folder, "paired.png");
        PairedDifferencePlot.SavePng(this, plot);
        return [csv, plot];
    }

    // The comparisons by baseline (those without one last), then measure, then pair: how the lines and the table list them.
    private IEnumerable<PairedResult> Ordered() =>
        Results.OrderBy(r => r.Baseline == NoBaseline ? Baselines.Count : Baselines.ToList().IndexOf(r.Baseline)).ThenBy(r => r.Measure);

    private string? Winner(PairedResult result) =>
        result.HolmP > Settings.Alpha || result.MeanDifference == 0 ? null : result.MeanDifference > 0 ? result.Pair.B : result.Pair.A;

    private static ConfigurationResult Find(EvaluationReport report, ConfigurationPair pair, string name) =>
        report.Find(name) ?? throw new ArgumentException(
            $"The pair '{pair}' names '{name}', which was not evaluated; evaluated: {string.Join(", ", report.Configurations.Select(c => c.Config.Name))}.");
}
