using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RelevanceSharp.Attribution;
using RelevanceSharp.Cli.Evaluating;
using RelevanceSharp.Cli.Reports;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Vision.Data;
using TorchSharp;

namespace RelevanceSharp.Cli.Commands;

/// <summary>
/// <c>relevance evaluate</c>: compares attribution configurations on a model and a set of images by region
/// perturbation (AOPC under MoRF and LeRF, ABPC, under several baselines) and the parameter randomization check;
/// compares pairs of configurations image by image; prints tables and writes plots and CSV files.
/// </summary>
public static class EvaluateCommand
{
    /// <summary>What one run of the command does.</summary>
    /// <param name="Model"><c>demo</c> or a model zoo name.</param>
    /// <param name="Weights">Weights file of a zoo model.</param>
    /// <param name="Inputs">Image files and folders; empty for the demo's sample images (or a data set).</param>
    /// <param name="Configs">Configuration texts; empty for <see cref="EvaluationDefaults.Specs"/>.</param>
    /// <param name="Options">Perturbation and randomization settings.</param>
    /// <param name="Output">Folder for the plots and CSV files.</param>
    /// <param name="NumClasses">Classifier outputs of a zoo model.</param>
    /// <param name="DemoFolder">Folder of the demo model's weights and samples, instead of the usual places.</param>
    /// <param name="Threads">Threads TorchSharp computes with, or <c>null</c> to leave the setting as it is.</param>
    public sealed record Request(string Model, string? Weights, IReadOnlyList<string> Inputs, IReadOnlyList<string> Configs,
        EvaluationOptions Options, string Output, int? NumClasses = null, string? DemoFolder = null, int? Threads = null)
    {
        /// <summary>Whether weights holding NaN or infinite values are loaded instead of refused.</summary>
        public bool AllowNonFiniteWeights { get; init; }

        /// <summary><c>fashion-mnist</c> or <c>folder:PATH</c> to evaluate on a labelled data set instead of <see cref="Inputs"/>.</summary>
        public string? Dataset { get; init; }

        /// <summary>Images of the data set's stratified sample, or <c>null</c> for all of them.</summary>
        public int? Count { get; init; }

        /// <summary>Seed of the data set's sample.</summary>
        public long SampleSeed { get; init; }

        /// <summary>Folder holding the Fashion-MNIST idx files.</summary>
        public string DataFolder { get; init; } = FashionMnist.DebianFolder;

        /// <summary>Pairs <c>A vs B</c> to compare; empty for <see cref="ConfigurationPair.Defaults"/>.</summary>
        public IReadOnlyList<string> Pairs { get; init; } = [];

        /// <summary>Settings of the paired comparisons.</summary>
        public PairedSettings Paired { get; init; } = new();
    }

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "Image files or folders (default for the demo model: its sample images).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var model = new Option<string>("--model", "-m")
        {
            Description = "'demo' (the built-in DenseNet), 'demo-vit' (the built-in vision transformer) or a model zoo architecture (see 'relevance models').",
            DefaultValueFactory = _ => ExplainModel.DemoName,
        };
        var weights = new Option<string?>("--weights", "-w") { Description = "Weights file (.pth or .safetensors) of a zoo model." };
        var numClasses = new Option<int?>("--num-classes") { Description = "Outputs of a zoo model's classifier (default 1000)." };
        var allowNonFinite = new Option<bool>("--allow-non-finite-weights") { Description = "Load weights that hold NaN or infinite values instead of refusing them." };
        var demoFolder = new Option<string?>("--demo-folder") { Description = "Folder holding the demo model's weights and samples." };
        var dataset = new Option<string?>("--dataset")
        {
            Description = $"Evaluate on a labelled data set instead of image files: '{EvaluationDataset.FashionMnistName}' (the test split of the Debian " +
                $"package dataset-fashion-mnist, demo model only) or '{EvaluationDataset.FolderPrefix}PATH' (one subfolder of images per class; " +
                "class index = subfolder position in name order; any model).",
        };
        var count = new Option<int?>("--count")
        {
            Description = "Images of the data set to evaluate: a seeded stratified sample with the same number per class (default: " +
                $"{EvaluationDefaults.DatasetCount} for {EvaluationDataset.FashionMnistName}, all images of a folder).",
        };
        var data = new Option<string>("--data")
        {
            Description = "Folder holding the Fashion-MNIST idx files (Debian package dataset-fashion-mnist).",
            DefaultValueFactory = _ => FashionMnist.DebianFolder,
        };
        var configs = new Option<string[]>("--config", "-c")
        {
            Description = $"A configuration to compare, repeatable: a method ({string.Join(", ", MethodRegistry.Names)}) or a composite (LRP) with " +
                "optional arguments and canonizers, e.g. epsilon_gamma_box+densenet_seq_thresh, epsilon_plus_flat(epsilon=1e-3) or " +
                "smoothgrad(iterations=10):epsilon_plus_flat. " +
                "Default: epsilon_plus_flat and epsilon_gamma_box with none, densenet_seq_thresh and densenet_thresh_seq, and gradient. " +
                "The random attribution (uniform noise) is always added as a sanity row.",
        };
        var pairs = new Option<string[]>("--pair")
        {
            Description = "A pair of configurations to compare image by image, 'A vs B', repeatable (A the reference, B the candidate). " +
                "Default: each composite without canonizer vs with densenet_seq_thresh, densenet_seq_thresh vs densenet_thresh_seq under " +
                "each composite, and gradient vs every other configuration.",
        };
        var patchSize = new Option<int?>("--patch-size")
        {
            Description = "Side of the square patches in pixels (default 4 for images up to 64 pixels a side, such as the demo's 28x28, else 16).",
        };
        var steps = new Option<int?>("--steps")
        {
            Description = $"Perturbation steps (default: enough to perturb all patches when there are up to {PerturbationSettings.AllPatchesUpTo}, else 20% of them).",
        };
        var patchesPerStep = new Option<int?>("--patches-per-step")
        {
            Description = $"Patches perturbed per step (default 1; {EvaluationDefaults.DatasetPatchesPerStep} with --dataset, which takes fewer forward passes for a coarser curve).",
        };
        var baseline = new Option<string[]>("--baseline")
        {
            Description = "What perturbed patches become, repeatable: zeros, mean (per image and channel), blur (Gaussian) or noise " +
                $"(uniform in the image's range). Default: {string.Join(" and ", EvaluationDefaults.Baselines)}.",
        };
        baseline.AcceptOnlyFromAmong([.. PerturbationBaseline.Names]);
        var sigma = new Option<double>("--blur-sigma") { Description = "Sigma of the blur baseline in pixels.", DefaultValueFactory = _ => 2.0 };
        var seed = new Option<long>("--seed")
        {
            Description = "Seed of the data set's sample, the random orders, the noise baseline, the random attribution and the random weights.",
            DefaultValueFactory = _ => 0,
        };
        var randomOrders = new Option<int?>("--random-orders") { Description = "Random orders averaged for the control (default 3; 1 with --dataset)." };
        var score = new Option<string>("--score")
        {
            Description = "Recorded score of the target class: logit or probability.",
            DefaultValueFactory = _ => "logit",
        };
        score.AcceptOnlyFromAmong("logit", "probability");
        var randomization = new Option<bool>("--randomization")
        {
            Description = "Run the cascading parameter randomization check (on by default).",
            DefaultValueFactory = _ => true,
        };
        var noRandomization = new Option<bool>("--no-randomization") { Description = "Skip the parameter randomization check." };
        var randomizationLayers = new Option<int?>("--randomization-layers") { Description = "Randomize at most this many layers, from the output (default all)." };
        var absolute = new Option<bool>("--absolute") { Description = "Compare absolute relevance in the randomization check." };
        var resamples = new Option<int>("--resamples")
        {
            Description = "Bootstrap resamples of each paired comparison's confidence interval.",
            DefaultValueFactory = _ => Bootstrap.DefaultResamples,
        };
        var threads = new Option<int?>("--threads")
        {
            Description = "Threads to compute with (default: 1 for the demo model, whose many small operations run fastest on one " +
                "thread and slow down badly when threads wait for a busy core; all cores for zoo models).",
        };
        var workers = new Option<int?>("--workers")
        {
            Description = "Threads that put batches of perturbed images through the model at the same time (default: all cores when " +
                "--threads is 1, as for the demo model, else 1).",
        };
        var batchSize = new Option<int>("--batch-size") { Description = "Perturbed images per forward pass.", DefaultValueFactory = _ => EvaluationDefaults.BatchSize };
        var infidelitySamples = new Option<int?>("--infidelity-samples")
        {
            Description = "Noisy copies of each image for infidelity (the attribution against the score change it predicts); 0 skips the measure [default: 10].",
        };
        var sensitivitySamples = new Option<int?>("--sensitivity-samples")
        {
            Description = "Perturbed copies of each image for sensitivity-max, each attributed again; 0 skips the measure [default: 10].",
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder for the plots (perturbation_BASELINE.png, paired.png) and CSV files (per_image.csv, pairs.csv, perturbation.csv, " +
                "perturbation_curves.csv, randomization.csv) and report.html, one page with the tables, plots and verdicts.",
            DefaultValueFactory = _ => Path.Combine("out", "evaluation"),
        };
        var command = new Command("evaluate",
            "Compare attribution configurations by region perturbation (AOPC most and least relevant first, ABPC, under several " +
            "baselines) and the parameter randomization check, and pairs of them image by image; print tables, write plots and CSV files.")
        {
            inputs, model, weights, numClasses, allowNonFinite, demoFolder, dataset, count, data, configs, pairs, patchSize, steps, patchesPerStep,
            baseline, sigma, seed, randomOrders, score, randomization, noRandomization, randomizationLayers, absolute, resamples, batchSize, threads, workers, infidelitySamples,
            sensitivitySamples, output,
        };
        command.WithExamples(
            "Measures, per image: AOPC (MoRF), the mean drop of the target logit when the most relevant patches go first (higher is better); " +
            "AOPC (LeRF), the same with the least relevant first (lower is better); ABPC = AOPC (MoRF) - AOPC (LeRF) (higher is better). " +
            "A paired line 'A vs B' reports d, the mean over the images of B's score minus A's (A's minus B's for LeRF), so d > 0 always " +
            "means B is more faithful; its percentile bootstrap interval; the Wilcoxon signed-rank p-value (zero differences dropped); " +
            "on how many of the images that differ B is better; and n, all images. The table's Holm p corrects for all comparisons of the run.",
            "relevance evaluate",
            "relevance evaluate --dataset fashion-mnist --count 1000 --no-randomization",
            "relevance evaluate --dataset fashion-mnist --count 200 --pair \"epsilon_gamma_box+densenet_seq_thresh vs epsilon_gamma_box+densenet_thresh_seq\"",
            "relevance evaluate photos/ --model resnet50 --weights resnet50.pth --config epsilon_gamma_box+resnet --steps 40");
        command.SetAction(parse => Cli.Run(parse, _ =>
        {
            if (parse.GetValue(patchSize) is int size && size < 1)
            {
                throw new ArgumentException($"The patch size must be at least 1 pixel; got {size}.");
            }
            string? datasetName = parse.GetValue(dataset);
            bool fromDataset = datasetName is not null;
            if (parse.GetValue(count) is int n && !fromDataset)
            {
                throw new ArgumentException($"--count {n} needs --dataset: it sizes the sample of a data set.");
            }
            long seedValue = parse.GetValue(seed);
            var perturbation = new PerturbationSettings
            {
                PatchSize = parse.GetValue(patchSize) ?? 0,
                Steps = parse.GetValue(steps),
                PatchesPerStep = parse.GetValue(patchesPerStep) ?? (fromDataset ? EvaluationDefaults.DatasetPatchesPerStep : 1),
                Score = parse.GetValue(score) == "probability" ? PerturbationScore.Probability : PerturbationScore.Logit,
                RandomOrders = parse.GetValue(randomOrders) ?? (fromDataset ? EvaluationDefaults.DatasetRandomOrders : 3),
                Seed = seedValue,
                BatchSize = parse.GetValue(batchSize),
            };
            string[] baselineNames = parse.GetValue(baseline) is { Length: > 0 } given ? given : [.. EvaluationDefaults.Baselines];
            var baselines = baselineNames.Distinct().Select(b => PerturbationBaseline.Parse(b, parse.GetValue(sigma), seedValue)).ToArray();
            bool randomize = parse.GetValue(randomization) && !parse.GetValue(noRandomization);
            var options = new EvaluationOptions
            {
                Perturbation = perturbation with { Baseline = baselines[0] },
                Baselines = baselines,
                Randomization = randomize
                    ? new RandomizationSettings { Seed = seedValue, Absolute = parse.GetValue(absolute), MaxLayers = parse.GetValue(randomizationLayers) }
                    : null,
            };
            string modelName = parse.GetValue(model)!;
            int threadCount = parse.GetValue(threads) ?? (ExplainModel.IsDemo(modelName) ? 1 : Environment.ProcessorCount);
            if (threadCount < 1)
            {
                throw new ArgumentException($"--threads must be at least 1; got {threadCount}.");
            }
            int workerCount = parse.GetValue(workers) ?? (threadCount == 1 ? Environment.ProcessorCount : 1);
            if (workerCount < 1 || workerCount > Environment.ProcessorCount)
            {
                throw new ArgumentException($"--workers must be between 1 and the {Environment.ProcessorCount} cores of this machine; got {workerCount}.");
            }
            options = options with
            {
                Perturbation = options.Perturbation with { Workers = workerCount },
                Infidelity = MetricSamples(parse.GetValue(infidelitySamples), "--infidelity-samples") is int infidelity
                    ? infidelity == 0 ? null : new InfidelitySettings { Samples = infidelity, Seed = seedValue }
                    : new InfidelitySettings { Seed = seedValue },
                Sensitivity = MetricSamples(parse.GetValue(sensitivitySamples), "--sensitivity-samples") is int sensitivity
                    ? sensitivity == 0 ? null : new SensitivitySettings { Samples = sensitivity, Seed = seedValue }
                    : new SensitivitySettings { Seed = seedValue },
            };
            int resampleCount = parse.GetValue(resamples);
            if (resampleCount < 1)
            {
                throw new ArgumentException($"--resamples must be at least 1; got {resampleCount}.");
            }
            var request = new Request(modelName, parse.GetValue(weights), parse.GetValue(inputs) ?? [],
                parse.GetValue(configs) ?? [], options, parse.GetValue(output)!, parse.GetValue(numClasses), parse.GetValue(demoFolder), threadCount)
            {
                AllowNonFiniteWeights = parse.GetValue(allowNonFinite),
                Dataset = datasetName,
                Count = parse.GetValue(count) ?? (datasetName == EvaluationDataset.FashionMnistName ? EvaluationDefaults.DatasetCount : null),
                SampleSeed = seedValue,
                DataFolder = parse.GetValue(data)!,
                Pairs = parse.GetValue(pairs) ?? [],
                Paired = new PairedSettings { Resamples = resampleCount, Seed = seedValue },
            };
            Run(request, Console.Out, Console.Error);
        }));
        return command;
    }

    /// <summary>
    /// Runs an evaluation: loads the model and images, evaluates the configurations, compares the pairs, prints the
    /// tables and lines to <paramref name="output"/> and progress to <paramref name="log"/>, and writes the files. A
    /// patch size of 0 means the default for the image size.
    /// </summary>
    public static EvaluationReport Run(Request request, TextWriter output, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(log);
        var clock = Stopwatch.StartNew();
        // Check the settings, configurations and pairs before the model and images are loaded (a patch size of 0 is
        // filled in below).
        EvaluationOptions options = request.Options;
        (options.Perturbation.PatchSize == 0 ? options.Perturbation with { PatchSize = 1 } : options.Perturbation).Validate();
        IReadOnlyList<AttributionSpec> configs = EvaluationDefaults.Configurations(request.Configs);
        IReadOnlyList<ConfigurationPair> pairs = Pairs(request.Pairs, configs);
        if (request.Dataset is not null && request.Inputs.Count > 0)
        {
            throw new ArgumentException("Give either image files or --dataset, not both.");
        }
        // The thread count holds for this evaluation only, as in the other commands.
        using TorchThreads? threadCount = request.Threads is int count ? TorchThreads.Use(count) : null;
        using EvaluationSetup setup = request.Dataset is null
            ? EvaluationSetup.Load(request.Model, request.Weights, request.Inputs, request.NumClasses, request.DemoFolder, request.AllowNonFiniteWeights)
            : EvaluationSetup.LoadDataset(request.Model, request.Weights, request.Dataset, request.Count, request.SampleSeed, request.DataFolder,
                request.NumClasses, request.DemoFolder, request.AllowNonFiniteWeights);
        if (options.Perturbation.PatchSize == 0)
        {
            long side = Math.Min(setup.Inputs.shape[2], setup.Inputs.shape[3]);
            options = options with { Perturbation = options.Perturbation with { PatchSize = side <= 64 ? 4 : 16 } };
        }
        log.WriteLine($"Evaluating {configs.Count} configuration(s) of {setup.Description} on {setup.ImagesDescription}.");
        EvaluationReport report = Evaluator.Run(setup.Model, setup.Inputs, configs, setup.Bounds, options, new ProgressLog(log), setup.ImageNames);
        report = report.WithLabels(setup.Labels);
        PairedAnalysis paired = PairedAnalysis.Run(report, pairs.Where(p => report.Find(p.A) is not null && report.Find(p.B) is not null).ToList(), request.Paired);
        Print(output, report, paired);
        foreach (string path in report.WriteAll(request.Output).Concat(paired.Results.Count > 0 ? paired.WriteAll(request.Output) : []))
        {
            output.WriteLine($"wrote {path}");
        }
        output.WriteLine($"wrote {EvaluationHtml.Write(request.Output, report, paired, $"{setup.Description} on {setup.ImagesDescription}.", Accuracy(report))}");
        double seconds = clock.Elapsed.TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"done in {seconds:F1} s: {report.ImageNames.Count} images, {report.ImageNames.Count / seconds:F2} images/s " +
            $"({report.Configurations.Count} configurations, {report.Baselines.Count} baseline{(report.Baselines.Count == 1 ? "" : "s")}, " +
            $"{torch.get_num_threads()} thread{(torch.get_num_threads() == 1 ? "" : "s")} per operation, " +
            $"{options.Perturbation.Workers} perturbation worker{(options.Perturbation.Workers == 1 ? "" : "s")})"));
        if (report.Failures.Count > 0)
        {
            foreach (EvaluationFailure failure in report.Failures)
            {
                log.WriteLine($"error: {failure}");
            }
            throw new InvalidOperationException(
                $"{report.Failures.Count} of {configs.Count} configurations failed with NaN or infinite values (first: " +
                $"{report.Failures[0].Config}); the results of the others were written.");
        }
        return report;
    }

    // A metric's sample count as given (null when not given); negative counts are refused.
    private static int? MetricSamples(int? samples, string option) => samples is < 0
        ? throw new ArgumentException($"{option} must be 0 (skip the measure) or more; got {samples}.")
        : samples;

    // The pairs asked for, or the default ones; each must name evaluated configurations.
    private static IReadOnlyList<ConfigurationPair> Pairs(IReadOnlyList<string> texts, IReadOnlyList<AttributionSpec> configs)
    {
        if (texts.Count == 0)
        {
            return ConfigurationPair.Defaults(configs);
        }
        var names = configs.Select(c => c.Name).ToList();
        var pairs = new List<ConfigurationPair>();
        foreach (string text in texts)
        {
            ConfigurationPair pair;
            try
            {
                pair = ConfigurationPair.Parse(text);
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"--pair '{text}': {ex.Message}", ex);
            }
            foreach (string side in new[] { pair.A, pair.B }.Where(side => !names.Contains(side)))
            {
                throw new ArgumentException($"--pair '{text}': {side} is not one of the configurations evaluated ({string.Join(", ", names)}); add it with --config.");
            }
            pairs.Add(pair);
        }
        return pairs.Distinct().ToList();
    }

    // How many images the model classifies correctly, when their labels are known.
    private static string? Accuracy(EvaluationReport report)
    {
        if (report.Labels is not { } labels)
        {
            return null;
        }
        int hits = labels.Zip(report.Targets, (label, target) => label == target ? 1 : 0).Sum();
        return string.Create(CultureInfo.InvariantCulture,
            $"The model classifies {hits} of the {labels.Count} images correctly ({100.0 * hits / labels.Count:F1}%); each is explained and scored for its predicted class.");
    }

    private static void Print(TextWriter output, EvaluationReport report, PairedAnalysis paired)
    {
        output.WriteLine(report.Describe());
        if (Accuracy(report) is { } accuracy)
        {
            output.WriteLine(accuracy);
        }
        output.WriteLine();
        output.Write(report.FormatTable());
        output.WriteLine();
        foreach (string line in report.SanityCheck())
        {
            output.WriteLine(line);
        }
        if (paired.Results.Count == 0)
        {
            output.WriteLine();
            return;
        }
        output.WriteLine();
        output.WriteLine($"Paired comparisons (d > 0: B more faithful; Holm's correction over all {paired.Results.Count} comparisons):");
        output.Write(paired.FormatTable());
        output.WriteLine();
        foreach (string line in paired.Lines())
        {
            output.WriteLine(line);
        }
        output.WriteLine();
        foreach (string line in paired.Verdicts())
        {
            output.WriteLine(line);
        }
        output.WriteLine();
    }

    /// <summary>
    /// Progress on standard error: on a terminal a bar per stage with the time left, redrawn in place; otherwise a
    /// line at every tenth of a long stage. Either way a line when a stage ends.
    /// </summary>
    private sealed class ProgressLog(TextWriter log) : IProgress<EvaluationProgress>
    {
        private const int BarWidth = 30;
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private readonly bool live = ReferenceEquals(log, Console.Error) && !Console.IsErrorRedirected;
        private string? stage;
        private TimeSpan stageStart;
        private TimeSpan lastReport;
        private TimeSpan lastDraw;
        private int nextTenth;
        private int drawn;

        public void Report(EvaluationProgress value)
        {
            // A stage reports first when its first batch is done, so it began when the stage before it reported last.
            if (value.Stage != stage)
            {
                stage = value.Stage;
                stageStart = lastReport;
                nextTenth = 1;
            }
            lastReport = clock.Elapsed;
            TimeSpan elapsed = lastReport - stageStart;
            if (value.Done >= value.Total)
            {
                Write(string.Create(CultureInfo.InvariantCulture, $"{value.Stage}: {value.Total}/{value.Total} in {elapsed.TotalSeconds:F1} s"), endLine: true);
                return;
            }
            double fraction = (double)value.Done / value.Total;
            string left = Remaining(TimeSpan.FromSeconds(elapsed.TotalSeconds * (1 - fraction) / Math.Max(fraction, 1e-9)));
            if (live)
            {
                if (lastReport - lastDraw >= TimeSpan.FromMilliseconds(100))
                {
                    lastDraw = lastReport;
                    int filled = (int)(fraction * BarWidth);
                    Write(string.Create(CultureInfo.InvariantCulture,
                        $"{value.Stage}: [{new string('#', filled)}{new string('-', BarWidth - filled)}] {fraction * 100,3:F0}% {value.Done}/{value.Total}, {left} left"),
                        endLine: false);
                }
            }
            else if (fraction * 10 >= nextTenth)
            {
                nextTenth = (int)(fraction * 10) + 1;
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{value.Stage}: {fraction * 100:F0}% ({value.Done}/{value.Total}), {left} left"));
            }
        }

        private void Write(string text, bool endLine)
        {
            if (live)
            {
                // Overwrite the bar, clearing what a longer one left.
                log.Write("\r" + text.PadRight(drawn));
                drawn = endLine ? 0 : text.Length;
                if (endLine)
                {
                    log.WriteLine();
                }
            }
            else if (endLine)
            {
                log.WriteLine(text);
            }
        }

        private static string Remaining(TimeSpan time) =>
            time.TotalHours >= 1 ? $"{(int)time.TotalHours}h {time.Minutes:D2}m"
            : time.TotalMinutes >= 1 ? $"{(int)time.TotalMinutes}m {time.Seconds:D2}s"
            : $"{Math.Ceiling(time.TotalSeconds):F0}s";
    }
}
