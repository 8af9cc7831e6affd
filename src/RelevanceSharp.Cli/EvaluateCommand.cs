using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Explaining;
using TorchSharp;

namespace RelevanceSharp.Cli;

/// <summary>
/// <c>relevance evaluate</c>: compares attribution configurations on a model and a set of images by region
/// perturbation and the parameter randomization check; prints a table and writes a plot and CSV files.
/// </summary>
public static class EvaluateCommand
{
    /// <summary>What one run of the command does.</summary>
    /// <param name="Model"><c>demo</c> or a model zoo name.</param>
    /// <param name="Weights">Weights file of a zoo model.</param>
    /// <param name="Inputs">Image files and folders; empty for the demo's sample images.</param>
    /// <param name="Configs">Configuration texts; empty for <see cref="EvaluationConfig.DemoDefaults"/>.</param>
    /// <param name="Options">Perturbation and randomization settings.</param>
    /// <param name="Output">Folder for the plot and CSV files.</param>
    /// <param name="NumClasses">Classifier outputs of a zoo model.</param>
    /// <param name="DemoFolder">Folder of the demo model's weights and samples, instead of the usual places.</param>
    /// <param name="Threads">Threads TorchSharp computes with, or <c>null</c> to leave the setting as it is.</param>
    public sealed record Request(string Model, string? Weights, IReadOnlyList<string> Inputs, IReadOnlyList<string> Configs,
        EvaluationOptions Options, string Output, int? NumClasses = null, string? DemoFolder = null, int? Threads = null)
    {
        /// <summary>Whether weights holding NaN or infinite values are loaded instead of refused.</summary>
        public bool AllowNonFiniteWeights { get; init; }
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
            Description = "'demo' or a model zoo architecture (see 'relevance models').",
            DefaultValueFactory = _ => ExplainModel.DemoName,
        };
        var weights = new Option<string?>("--weights", "-w") { Description = "Weights file (.pth or .safetensors) of a zoo model." };
        var numClasses = new Option<int?>("--num-classes") { Description = "Outputs of a zoo model's classifier (default 1000)." };
        var allowNonFinite = new Option<bool>("--allow-non-finite-weights") { Description = "Load weights that hold NaN or infinite values instead of refusing them." };
        var demoFolder = new Option<string?>("--demo-folder") { Description = "Folder holding the demo model's weights and samples." };
        var configs = new Option<string[]>("--config", "-c")
        {
            Description = "A configuration to compare, repeatable: gradient, smoothgrad, integrated_gradients, or a composite with " +
                "optional arguments and canonizers, e.g. epsilon_gamma_box+densenet_seq_thresh or epsilon_plus_flat(epsilon=1e-3). " +
                "Default: epsilon_plus_flat and epsilon_gamma_box with none, densenet_seq_thresh and densenet_thresh_seq, and gradient.",
        };
        var patchSize = new Option<int?>("--patch-size")
        {
            Description = "Side of the square patches in pixels (default 4 for images up to 64 pixels a side, such as the demo's 28x28, else 16).",
        };
        var steps = new Option<int?>("--steps")
        {
            Description = $"Patches perturbed, one per step (default: all up to {PerturbationSettings.AllPatchesUpTo} patches, else 20%).",
        };
        var baseline = new Option<string>("--baseline")
        {
            Description = "What perturbed patches become: zeros, mean (per image and channel), blur (Gaussian) or noise (uniform in the image's range).",
            DefaultValueFactory = _ => "zeros",
        };
        baseline.AcceptOnlyFromAmong([.. PerturbationBaseline.Names]);
        var sigma = new Option<double>("--blur-sigma") { Description = "Sigma of the blur baseline in pixels.", DefaultValueFactory = _ => 2.0 };
        var seed = new Option<long>("--seed") { Description = "Seed of the random orders, the noise baseline and the random weights.", DefaultValueFactory = _ => 0 };
        var randomOrders = new Option<int>("--random-orders") { Description = "Random orders averaged for the control.", DefaultValueFactory = _ => 3 };
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
        var threads = new Option<int?>("--threads")
        {
            Description = "Threads to compute with (default: 1 for the demo model, whose many small operations run fastest on one " +
                "thread and slow down badly when threads wait for a busy core; all cores for zoo models).",
        };
        var batchSize = new Option<int>("--batch-size") { Description = "Perturbed images per forward pass.", DefaultValueFactory = _ => 64 };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder for perturbation.png, perturbation.csv, perturbation_curves.csv and randomization.csv.",
            DefaultValueFactory = _ => Path.Combine("out", "evaluation"),
        };
        var command = new Command("evaluate",
            "Compare attribution configurations by region perturbation (AOPC, most relevant first against random order) " +
            "and the parameter randomization check; print a table, write a plot and CSV files.\n\n" +
            "Examples:\n  relevance evaluate\n  relevance evaluate --config epsilon_gamma_box+densenet_seq_thresh --config gradient --baseline blur\n" +
            "  relevance evaluate photos/ --model resnet50 --weights resnet50.pth --config epsilon_gamma_box+resnet --steps 40")
        {
            inputs, model, weights, numClasses, allowNonFinite, demoFolder, configs, patchSize, steps, baseline, sigma, seed, randomOrders, score,
            randomization, noRandomization, randomizationLayers, absolute, batchSize, threads, output,
        };
        command.SetAction(parse => Cli.Run(parse, _ =>
        {
            if (parse.GetValue(patchSize) is int size && size < 1)
            {
                throw new ArgumentException($"The patch size must be at least 1 pixel; got {size}.");
            }
            long seedValue = parse.GetValue(seed);
            var perturbation = new PerturbationSettings
            {
                PatchSize = parse.GetValue(patchSize) ?? 0,
                Steps = parse.GetValue(steps),
                Baseline = PerturbationBaseline.Parse(parse.GetValue(baseline)!, parse.GetValue(sigma), seedValue),
                Score = parse.GetValue(score) == "probability" ? PerturbationScore.Probability : PerturbationScore.Logit,
                RandomOrders = parse.GetValue(randomOrders),
                Seed = seedValue,
                BatchSize = parse.GetValue(batchSize),
            };
            bool randomize = parse.GetValue(randomization) && !parse.GetValue(noRandomization);
            var options = new EvaluationOptions
            {
                Perturbation = perturbation,
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
            var request = new Request(modelName, parse.GetValue(weights), parse.GetValue(inputs) ?? [],
                parse.GetValue(configs) ?? [], options, parse.GetValue(output)!, parse.GetValue(numClasses), parse.GetValue(demoFolder), threadCount)
            {
                AllowNonFiniteWeights = parse.GetValue(allowNonFinite),
            };
            Run(request, Console.Out, Console.Error);
        }));
        return command;
    }

    /// <summary>
    /// Runs an evaluation: loads the model and images, evaluates the configurations, prints the table to
    /// <paramref name="output"/> and progress to <paramref name="log"/>, and writes the files. A patch size of 0
    /// means the default for the image size.
    /// </summary>
    public static EvaluationReport Run(Request request, TextWriter output, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(log);
        var clock = Stopwatch.StartNew();
        // Check the settings before the model and images are loaded (a patch size of 0 is filled in below).
        EvaluationOptions options = request.Options;
        (options.Perturbation.PatchSize == 0 ? options.Perturbation with { PatchSize = 1 } : options.Perturbation).Validate();
        var configs = request.Configs.Count > 0 ? request.Configs.Select(EvaluationConfig.Parse).ToList() : EvaluationConfig.DemoDefaults.ToList();
        // The thread count holds for this evaluation only, as in the other commands.
        using TorchThreads? threadCount = request.Threads is int count ? TorchThreads.Use(count) : null;
        using EvaluationSetup setup = EvaluationSetup.Load(request.Model, request.Weights, request.Inputs, request.NumClasses, request.DemoFolder,
            request.AllowNonFiniteWeights);
        if (options.Perturbation.PatchSize == 0)
        {
            long side = Math.Min(setup.Inputs.shape[2], setup.Inputs.shape[3]);
            options = options with { Perturbation = options.Perturbation with { PatchSize = side <= 64 ? 4 : 16 } };
        }
        log.WriteLine($"Evaluating {configs.Count} configuration(s) of {setup.Description} on {setup.ImagePaths.Count} image(s).");
        EvaluationReport report = Evaluator.Run(setup.Model, setup.Inputs, configs, setup.Bounds, options, new ProgressLog(log),
            setup.ImagePaths.Select(Path.GetFileName).Select(name => name ?? "").ToArray());
        output.WriteLine(report.Describe());
        output.WriteLine();
        output.Write(report.FormatTable());
        output.WriteLine();
        foreach (string path in report.WriteAll(request.Output))
        {
            output.WriteLine($"wrote {path}");
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {clock.Elapsed.TotalSeconds:F1} s"));
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

    /// <summary>Prints a line when a stage ends (and live updates on a terminal).</summary>
    private sealed class ProgressLog(TextWriter log) : IProgress<EvaluationProgress>
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private readonly bool live = ReferenceEquals(log, Console.Error) && !Console.IsErrorRedirected;
        private string? stage;
        private TimeSpan stageStart;
        private TimeSpan lastReport;

        public void Report(EvaluationProgress value)
        {
            // A stage reports first when its first batch is done, so it began when the stage before it reported last.
            if (value.Stage != stage)
            {
                stage = value.Stage;
                stageStart = lastReport;
            }
            lastReport = clock.Elapsed;
            if (value.Done >= value.Total)
            {
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(live ? "\r" : "")}{value.Stage}: {value.Total}/{value.Total} in {(clock.Elapsed - stageStart).TotalSeconds:F1} s"));
            }
            else if (live)
            {
                log.Write($"\r{value.Stage}: {value.Done}/{value.Total}");
            }
        }
    }
}
