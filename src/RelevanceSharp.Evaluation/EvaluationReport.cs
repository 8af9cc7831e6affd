using System.Globalization;
using System.Text;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// The outcome of <see cref="Evaluator.Run"/>: one result per configuration, the shared random-order control, and
/// writers for the table, the CSV files and the plot.
/// </summary>
public sealed class EvaluationReport
{
    /// <summary>Collects the results.</summary>
    public EvaluationReport(IReadOnlyList<ConfigurationResult> configurations, PerturbationCurves random, PatchGrid grid,
        EvaluationOptions options, IReadOnlyList<string> imageNames, IReadOnlyList<long> targets)
    {
        Configurations = configurations ?? throw new ArgumentNullException(nameof(configurations));
        Random = random ?? throw new ArgumentNullException(nameof(random));
        Grid = grid ?? throw new ArgumentNullException(nameof(grid));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        ImageNames = imageNames ?? throw new ArgumentNullException(nameof(imageNames));
        Targets = targets ?? throw new ArgumentNullException(nameof(targets));
    }

    /// <summary>The result of each configuration, in the order given.</summary>
    public IReadOnlyList<ConfigurationResult> Configurations { get; }

    /// <summary>The random-order control, the same for every configuration.</summary>
    public PerturbationCurves Random { get; }

    /// <summary>The patches the images were cut into.</summary>
    public PatchGrid Grid { get; }

    /// <summary>The settings used.</summary>
    public EvaluationOptions Options { get; }

    /// <summary>The names of the images.</summary>
    public IReadOnlyList<string> ImageNames { get; }

    /// <summary>The class each image was explained and scored for.</summary>
    public IReadOnlyList<long> Targets { get; }

    /// <summary>Configurations left out of the results because an attribution held NaN or infinite values.</summary>
    public IReadOnlyList<EvaluationFailure> Failures { get; init; } = Array.Empty<EvaluationFailure>();

    /// <summary>Number of perturbation steps K.</summary>
    public int Steps => Random.Steps;

    /// <summary>
    /// The comparison as aligned plain text: per configuration AOPC of the most-relevant-first order (mean ±
    /// standard error over the images), of the random order, their difference, and the randomization check's mean
    /// rank correlation after randomizing all layers and averaged over the cascade.
    /// </summary>
    public string FormatTable()
    {
        bool randomization = Configurations.Any(c => c.Randomization is not null);
        var header = new List<string> { "configuration", "AOPC MoRF", "AOPC random", "MoRF - random" };
        if (randomization)
        {
            header.Add("rand. rho (all)");
            header.Add("rand. rho (mean)");
        }
        var rows = new List<string[]> { header.ToArray() };
        foreach (ConfigurationResult result in Configurations)
        {
            var row = new List<string>
            {
                result.Config.Name,
                result.Perturbation.MostRelevantFirst.AopcSummary.Format(),
                result.Perturbation.Random.AopcSummary.Format(),
                result.Perturbation.AopcDifference.Format(),
            };
            if (randomization)
            {
                row.Add(Number(result.Randomization?.Final ?? double.NaN));
                row.Add(Number(result.Randomization?.MeanOverSteps ?? double.NaN));
            }
            rows.Add(row.ToArray());
        }
        int[] widths = Enumerable.Range(0, header.Count).Select(col => rows.Max(r => r[col].Length)).ToArray();
        var text = new StringBuilder();
        for (int r = 0; r < rows.Count; r++)
        {
            text.AppendLine(string.Join("  ", rows[r].Select((cell, col) => col == 0 ? cell.PadRight(widths[col]) : cell.PadLeft(widths[col]))).TrimEnd());
            if (r == 0)
            {
                text.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
            }
        }
        return text.ToString();
    }

    /// <summary>A one-paragraph description of the setup: images, patches, steps, baseline, score, orders.</summary>
    public string Describe()
    {
        PerturbationSettings p = Options.Perturbation;
        string text = string.Create(CultureInfo.InvariantCulture,
            $"{ImageNames.Count} images of {Grid.Height}x{Grid.Width}, {Grid.Count} patches of {Grid.PatchSize}x{Grid.PatchSize}, " +
            $"{Steps} steps, baseline {p.Baseline.Name}, score {p.Score.ToString().ToLowerInvariant()}, " +
            $"{p.RandomOrders} random orders (seed {p.Seed})");
        if (Options.Randomization is { } r)
        {
            text += string.Create(CultureInfo.InvariantCulture,
                $"; randomization of {Configurations.FirstOrDefault()?.Randomization?.Steps.Count ?? 0} layers (seed {r.Seed}{(r.Absolute ? ", absolute relevance" : "")})");
        }
        return text + ".";
    }

    /// <summary>
    /// Writes the mean curves as CSV, one row per configuration and step: <c>configuration, step,
    /// fraction_perturbed, morf_mean, morf_standard_error, random_mean, random_standard_error</c>.
    /// </summary>
    public void WritePerturbationCsv(string path)
    {
        var csv = new StringBuilder("configuration,step,fraction_perturbed,morf_mean,morf_standard_error,random_mean,random_standard_error\n");
        foreach (ConfigurationResult result in Configurations)
        {
            for (int k = 0; k <= Steps; k++)
            {
                MeanWithError morf = result.Perturbation.MostRelevantFirst.MeanCurve[k];
                MeanWithError random = result.Perturbation.Random.MeanCurve[k];
                Csv.Row(csv, result.Config.Name, k, (double)k / Grid.Count, morf.Mean, morf.StandardError, random.Mean, random.StandardError);
            }
        }
        File.WriteAllText(path, csv.ToString());
    }

    /// <summary>
    /// Writes every image's curves as CSV: <c>configuration, image, target, order, step, score</c> (order
    /// <c>morf</c> or <c>random</c>, the latter the mean over the random orders).
    /// </summary>
    public void WriteCurvesCsv(string path)
    {
        var csv = new StringBuilder("configuration,image,target,order,step,score\n");
        foreach (ConfigurationResult result in Configurations)
        {
            foreach (var (order, curves) in new[] { ("morf", result.Perturbation.MostRelevantFirst), ("random", result.Perturbation.Random) })
            {
                for (int i = 0; i < curves.Images; i++)
                {
                    for (int k = 0; k <= Steps; k++)
                    {
                        Csv.Row(csv, result.Config.Name, ImageNames[i], Targets[i], order, k, curves.PerImage[i][k]);
                    }
                }
            }
        }
        File.WriteAllText(path, csv.ToString());
    }

    /// <summary>
    /// Writes the randomization cascade as CSV, one row per configuration and step: <c>configuration, step, layer,
    /// mean_spearman, standard_error, images</c> (images: how many had a defined correlation).
    /// </summary>
    public void WriteRandomizationCsv(string path)
    {
        var csv = new StringBuilder("configuration,step,layer,mean_spearman,standard_error,images\n");
        foreach (ConfigurationResult result in Configurations)
        {
            foreach (RandomizationStep step in result.Randomization?.Steps ?? [])
            {
                Csv.Row(csv, result.Config.Name, step.Step, step.Layer, step.Summary.Mean, step.Summary.StandardError, step.Summary.Count);
            }
        }
        File.WriteAllText(path, csv.ToString());
    }

    /// <summary>
    /// Writes <c>perturbation.csv</c>, <c>perturbation_curves.csv</c>, <c>perturbation.png</c> and (when the
    /// randomization check ran) <c>randomization.csv</c> into <paramref name="folder"/>, creating it; returns the
    /// paths written.
    /// </summary>
    public IReadOnlyList<string> WriteAll(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        string perturbation = Path.Combine(folder, "perturbation.csv");
        WritePerturbationCsv(perturbation);
        written.Add(perturbation);
        string curves = Path.Combine(folder, "perturbation_curves.csv");
        WriteCurvesCsv(curves);
        written.Add(curves);
        string plot = Path.Combine(folder, "perturbation.png");
        PerturbationPlot.SavePng(this, plot);
        written.Add(plot);
        if (Configurations.Any(c => c.Randomization is not null))
        {
            string randomization = Path.Combine(folder, "randomization.csv");
            WriteRandomizationCsv(randomization);
            written.Add(randomization);
        }
        return written;
    }

    private static string Number(double value) =>
        double.IsNaN(value) ? "n/a" : value.ToString("F3", CultureInfo.InvariantCulture);

    private static class Csv
    {
        public static void Row(StringBuilder csv, params object[] cells)
        {
            csv.AppendJoin(',', cells.Select(Cell)).Append('\n');
        }

        private static string Cell(object value)
        {
            string text = value switch
            {
                double d => d.ToString("R", CultureInfo.InvariantCulture),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString() ?? "",
            };
            return text.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
        }
    }
}
