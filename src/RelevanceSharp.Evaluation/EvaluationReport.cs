using System.Globalization;
using System.Text;
using RelevanceSharp.Attribution;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// The outcome of <see cref="Evaluator.Run"/>: one result per configuration (under every baseline), and writers
/// for the tables, the CSV files and the plots.
/// </summary>
public sealed class EvaluationReport
{
    /// <summary>Collects the results; every configuration must have been perturbed under the same baselines.</summary>
    public EvaluationReport(IReadOnlyList<ConfigurationResult> configurations, PatchGrid grid, EvaluationOptions options,
        IReadOnlyList<string> imageNames, IReadOnlyList<long> targets)
    {
        Configurations = configurations ?? throw new ArgumentNullException(nameof(configurations));
        Grid = grid ?? throw new ArgumentNullException(nameof(grid));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        ImageNames = imageNames ?? throw new ArgumentNullException(nameof(imageNames));
        Targets = targets ?? throw new ArgumentNullException(nameof(targets));
        if (configurations.Count == 0)
        {
            throw new ArgumentException("A report needs at least one configuration.", nameof(configurations));
        }
        Baselines = configurations[0].PerBaseline.Select(p => p.Baseline).ToArray();
        if (configurations.Any(c => !c.PerBaseline.Select(p => p.Baseline).SequenceEqual(Baselines)))
        {
            throw new ArgumentException("Every configuration must be perturbed under the same baselines.", nameof(configurations));
        }
    }

    /// <summary>The result of each configuration, in the order given.</summary>
    public IReadOnlyList<ConfigurationResult> Configurations { get; }

    /// <summary>The names of the baselines, in the order of each configuration's <see cref="ConfigurationResult.PerBaseline"/>.</summary>
    public IReadOnlyList<string> Baselines { get; }

    /// <summary>The random-order control under the first baseline, the same for every configuration.</summary>
    public PerturbationCurves Random => Configurations[0].Perturbation.Random;

    /// <summary>The patches the images were cut into.</summary>
    public PatchGrid Grid { get; }

    /// <summary>The settings used.</summary>
    public EvaluationOptions Options { get; }

    /// <summary>The names of the images.</summary>
    public IReadOnlyList<string> ImageNames { get; }

    /// <summary>The class each image was explained and scored for.</summary>
    public IReadOnlyList<long> Targets { get; }

    /// <summary>The true class of each image when known (for the per-image file), else <c>null</c>.</summary>
    public IReadOnlyList<long>? Labels { get; init; }

    /// <summary>The same report with the images' true classes (<see cref="Labels"/>).</summary>
    public EvaluationReport WithLabels(IReadOnlyList<long>? labels)
    {
        if (labels is not null && labels.Count != ImageNames.Count)
        {
            throw new ArgumentException($"{labels.Count} labels were given for {ImageNames.Count} images.", nameof(labels));
        }
        return new EvaluationReport(Configurations, Grid, Options, ImageNames, Targets) { Labels = labels, Failures = Failures };
    }

    /// <summary>Configurations left out of the results because an attribution held NaN or infinite values.</summary>
    public IReadOnlyList<EvaluationFailure> Failures { get; init; } = Array.Empty<EvaluationFailure>();

    /// <summary>Number of perturbation steps K.</summary>
    public int Steps => Random.Steps;

    /// <summary>The fraction of the patches perturbed after each step <c>0 .. K</c>.</summary>
    public IReadOnlyList<double> FractionsPerturbed =>
        Enumerable.Range(0, Steps + 1).Select(k => (double)Options.Perturbation.PatchesAfter(k, Grid.Count) / Grid.Count).ToArray();

    /// <summary>The measures without baseline that every configuration has (sparseness and complexity, and infidelity and max-sensitivity when they ran).</summary>
    public IReadOnlyList<FaithfulnessMeasure> MeasuresWithoutBaseline =>
        FaithfulnessMeasures.WithoutBaseline.Where(m => Configurations.All(c => c.Scores(m) is not null)).ToList();

    /// <summary>The configuration of the given name (as <see cref="AttributionSpec.Name"/> writes it), or <c>null</c>.</summary>
    public ConfigurationResult? Find(string name) => Configurations.FirstOrDefault(c => c.Config.Name == name);

    /// <summary>
    /// The comparison as aligned plain text: per baseline a table of the configurations' AOPC under MoRF and LeRF,
    /// ABPC, AOPC of the random order and MoRF minus random (each mean ± standard error over the images); then,
    /// when the randomization check ran, its mean rank correlation after randomizing all layers and averaged over
    /// the cascade.
    /// </summary>
    public string FormatTable()
    {
        var text = new StringBuilder();
        for (int b = 0; b < Baselines.Count; b++)
        {
            if (Baselines.Count > 1 || b > 0)
            {
                text.AppendLine($"baseline {Baselines[b]}:");
            }
            var rows = new List<string[]>
            {
                new[] { "configuration" }.Concat(FaithfulnessMeasures.All.Select(m => m.Label())).Concat(["AOPC random", "MoRF - random"]).ToArray(),
            };
            foreach (ConfigurationResult result in Configurations)
            {
                PerturbationResult p = result.PerBaseline[b];
                rows.Add(new[] { result.Config.Name }
                    .Concat(FaithfulnessMeasures.All.Select(m => p.Summary(m).Format()))
                    .Concat([p.Random.AopcSummary.Format(), p.AopcDifference.Format()])
                    .ToArray());
            }
            text.Append(TextTables.Format(rows));
            text.AppendLine();
        }
        if (MeasuresWithoutBaseline is { Count: > 0 } measures)
        {
            var rows = new List<string[]> { new[] { "configuration" }.Concat(measures.Select(m => $"{m.Label()} ({(m.HigherIsBetter() ? "higher" : "lower")} better)")).ToArray() };
            rows.AddRange(Configurations.Select(c => new[] { c.Config.Name }.Concat(measures.Select(m => MeanWithError.Of(c.Scores(m)!).Format())).ToArray()));
            text.AppendLine("measures without baseline:");
            text.Append(TextTables.Format(rows));
            text.AppendLine();
        }
        if (Configurations.Any(c => c.Randomization is not null))
        {
            var rows = new List<string[]> { new[] { "configuration", "rand. rho (all)", "rand. rho (mean)" } };
            rows.AddRange(Configurations.Select(c => new[]
            {
                c.Config.Name, TextTables.Number(c.Randomization?.Final ?? double.NaN), TextTables.Number(c.Randomization?.MeanOverSteps ?? double.NaN),
            }));
            text.AppendLine("parameter randomization:");
            text.Append(TextTables.Format(rows));
            text.AppendLine();
        }
        return text.ToString().TrimEnd() + Environment.NewLine;
    }

    /// <summary>A one-paragraph description of the setup: images, patches, steps, baselines, score, orders.</summary>
    public string Describe()
    {
        PerturbationSettings p = Options.Perturbation;
        string steps = p.PatchesPerStep == 1 ? $"{Steps} steps" : $"{Steps} steps of {p.PatchesPerStep} patches";
        string baselines = Baselines.Count == 1 ? $"baseline {Baselines[0]}" : $"baselines {string.Join(" and ", Baselines)}";
        string text = string.Create(CultureInfo.InvariantCulture,
            $"{ImageNames.Count} images of {Grid.Height}x{Grid.Width}, {Grid.Count} patches of {Grid.PatchSize}x{Grid.PatchSize}, " +
            $"{steps}, {baselines}, score {p.Score.ToString().ToLowerInvariant()}, " +
            $"{p.RandomOrders} random order{(p.RandomOrders == 1 ? "" : "s")} (seed {p.Seed})");
        if (Options.Randomization is { } r)
        {
            text += string.Create(CultureInfo.InvariantCulture,
                $"; randomization of {Configurations.FirstOrDefault()?.Randomization?.Steps.Count ?? 0} layers (seed {r.Seed}{(r.Absolute ? ", absolute relevance" : "")})");
        }
        return text + ".";
    }

    /// <summary>
    /// Whether the uniform-noise control (<see cref="UniformNoiseAttribution.MethodName"/>) ranks last, by the mean over
    /// the images, under every faithfulness measure (region perturbation's under every baseline, and infidelity when it
    /// ran): one line saying so, or one line per measure and baseline where some configuration does worse. Empty when the
    /// control was not evaluated. (Sensitivity, sparseness and complexity are left out: noise that ignores the model can
    /// be sparse or robust without being faithful.)
    /// </summary>
    public IReadOnlyList<string> SanityCheck()
    {
        ConfigurationResult? random = Configurations.FirstOrDefault(c => UniformNoiseAttribution.IsControl(c.Config));
        if (random is null)
        {
            return [];
        }
        var problems = new List<string>();
        for (int b = 0; b < Baselines.Count; b++)
        {
            foreach (FaithfulnessMeasure measure in FaithfulnessMeasures.All)
            {
                double noise = random.PerBaseline[b].Summary(measure).Mean;
                var worse = Configurations
                    .Where(c => c != random)
                    .Select(c => (c.Config.Name, Mean: c.PerBaseline[b].Summary(measure).Mean))
                    .Where(c => measure.HigherIsBetter() ? c.Mean < noise : c.Mean > noise)
                    .ToList();
                if (worse.Count > 0)
                {
                    problems.Add(SanityProblem(measure, $", baseline {Baselines[b]}", worse, noise));
                }
            }
        }
        if (MeasuresWithoutBaseline.Contains(FaithfulnessMeasure.Infidelity))
        {
            double noise = MeanWithError.Of(random.Scores(FaithfulnessMeasure.Infidelity)!).Mean;
            var worse = Configurations
                .Where(c => c != random)
                .Select(c => (c.Config.Name, Mean: MeanWithError.Of(c.Scores(FaithfulnessMeasure.Infidelity)!).Mean))
                .Where(c => c.Mean > noise)
                .ToList();
            if (worse.Count > 0)
            {
                problems.Add(SanityProblem(FaithfulnessMeasure.Infidelity, "", worse, noise));
            }
        }
        return problems.Count > 0 ? problems : ["sanity: the random attribution ranks last under every faithfulness measure and baseline."];
    }

    private static string SanityProblem(FaithfulnessMeasure measure, string where, IReadOnlyList<(string Name, double Mean)> worse, double noise) =>
        $"sanity: the random attribution does not rank last under {measure.Label()}{where}: " +
        string.Join(", ", worse.Select(w => $"{w.Name} ({TextTables.Number(w.Mean)})")) +
        $" {(worse.Count == 1 ? "does" : "do")} worse than random ({TextTables.Number(noise)}; " +
        $"{(measure.HigherIsBetter() ? "higher" : "lower")} is better).";

    /// <summary>
    /// Writes the mean curves as CSV, one row per configuration, baseline and step: <c>configuration, baseline,
    /// step, fraction_perturbed</c>, and mean and standard error over the images of the MoRF, LeRF and random-order
    /// scores.
    /// </summary>
    public void WritePerturbationCsv(string path)
    {
        var csv = new StringBuilder("configuration,baseline,step,fraction_perturbed,morf_mean,morf_standard_error,lerf_mean,lerf_standard_error,random_mean,random_standard_error\n");
        IReadOnlyList<double> fractions = FractionsPerturbed;
        foreach (ConfigurationResult result in Configurations)
        {
            foreach (PerturbationResult p in result.PerBaseline)
            {
                for (int k = 0; k <= Steps; k++)
                {
                    MeanWithError morf = p.MostRelevantFirst.MeanCurve[k], lerf = p.LeastRelevantFirst.MeanCurve[k], random = p.Random.MeanCurve[k];
                    TextTables.CsvRow(csv, result.Config.Name, p.Baseline, k, fractions[k], morf.Mean, morf.StandardError,
                        lerf.Mean, lerf.StandardError, random.Mean, random.StandardError);
                }
            }
        }
        File.WriteAllText(path, csv.ToString());
    }

    /// <summary>
    /// Writes every image's curves as CSV: <c>configuration, baseline, image, target, order, step, score</c> (order
    /// <c>morf</c>, <c>lerf</c> or <c>random</c>, the last the mean over the random orders).
    /// </summary>
    public void WriteCurvesCsv(string path)
    {
        var csv = new StringBuilder("configuration,baseline,image,target,order,step,score\n");
        foreach (ConfigurationResult result in Configurations)
        {
            foreach (PerturbationResult p in result.PerBaseline)
            {
                foreach (var (order, curves) in new[] { ("morf", p.MostRelevantFirst), ("lerf", p.LeastRelevantFirst), ("random", p.Random) })
                {
                    for (int i = 0; i < curves.Images; i++)
                    {
                        for (int k = 0; k <= Steps; k++)
                        {
                            TextTables.CsvRow(csv, result.Config.Name, p.Baseline, ImageNames[i], Targets[i], order, k, curves.PerImage[i][k]);
                        }
                    }
                }
            }
        }
        File.WriteAllText(path, csv.ToString());
    }

    /// <summary>
    /// Writes every image's scores as CSV, one row per image, configuration and baseline: <c>image, label, target,
    /// configuration, baseline, morf_aopc, lerf_aopc, abpc, random_aopc</c> (label empty when unknown), then the measures
    /// without baseline that ran (<c>infidelity, sensitivity_max, sparseness, complexity</c>; the same on every baseline's
    /// row of an image). Enough to redo every statistic of the paired comparisons.
    /// </summary>
    public void WritePerImageCsv(string path)
    {
        IReadOnlyList<FaithfulnessMeasure> others = MeasuresWithoutBaseline;
        var csv = new StringBuilder("image,label,target,configuration,baseline," + string.Join(",", FaithfulnessMeasures.All.Select(m => m.Key())) + ",random_aopc" +
            string.Concat(others.Select(m => "," + m.Key())) + "\n");
        foreach (ConfigurationResult result in Configurations)
        {
            foreach (PerturbationResult p in result.PerBaseline)
            {
                for (int i = 0; i < ImageNames.Count; i++)
                {
                    TextTables.CsvRow(csv, [ImageNames[i], Labels?[i], Targets[i], result.Config.Name, p.Baseline,
                        .. FaithfulnessMeasures.All.Select(m => (object)p.Scores(m)[i]), p.Random.Aopc[i],
                        .. others.Select(m => (object)result.Scores(m)![i])]);
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
                TextTables.CsvRow(csv, result.Config.Name, step.Step, step.Layer, step.Summary.Mean, step.Summary.StandardError, step.Summary.Count);
            }
        }
        File.WriteAllText(path, csv.ToString());
    }

    /// <summary>The file name of the curve plot of a baseline: <c>perturbation_zeros.png</c>, <c>perturbation_blur_sigma_2.png</c>.</summary>
    public string PlotFileName(int baseline)
    {
        string name = new(Baselines[baseline].Select(ch => char.IsAsciiLetterOrDigit(ch) ? char.ToLowerInvariant(ch) : '_').ToArray());
        return $"perturbation_{string.Join("_", name.Split('_', StringSplitOptions.RemoveEmptyEntries))}.png";
    }

    /// <summary>
    /// Writes <c>perturbation.csv</c>, <c>perturbation_curves.csv</c>, <c>per_image.csv</c>, a curve plot per
    /// baseline (<see cref="PlotFileName"/>) and (when the randomization check ran) <c>randomization.csv</c> into
    /// <paramref name="folder"/>, creating it; returns the paths written.
    /// </summary>
    public IReadOnlyList<string> WriteAll(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        void Write(string name, Action<string> writer)
        {
            string path = Path.Combine(folder, name);
            writer(path);
            written.Add(path);
        }
        Write("perturbation.csv", WritePerturbationCsv);
        Write("perturbation_curves.csv", WriteCurvesCsv);
        Write("per_image.csv", WritePerImageCsv);
        for (int b = 0; b < Baselines.Count; b++)
        {
            int baseline = b;
            Write(PlotFileName(b), path => PerturbationPlot.SavePng(this, path, baseline));
        }
        if (Configurations.Any(c => c.Randomization is not null))
        {
            Write("randomization.csv", WriteRandomizationCsv);
        }
        return written;
    }
}
