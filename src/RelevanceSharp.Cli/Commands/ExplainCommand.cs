using System.CommandLine;
using System.Globalization;
using RelevanceSharp.Attribution;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Composites;
using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.Imaging;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace RelevanceSharp.Cli.Commands;

/// <summary><c>relevance explain IMAGE|FOLDER...</c>: heatmaps (and relevance files) for images.</summary>
public static partial class ExplainCommand
{
    // The explain options that set a method's arguments, by argument name; a method takes those it declares.
    private static readonly (string Option, string Argument)[] MethodOptions =
        [("--iterations", "iterations"), ("--noise-level", "noise_level"), ("--seed", "seed"), ("--window", "window"), ("--stride", "stride"), (LayerOption, "layer")];

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs")
        {
            Description = $"Image files and folders (a folder means the {string.Join(", ", ImageFiles.Extensions.Select(e => e[1..]))} files directly inside); explained in order of file name.",
            Arity = ArgumentArity.OneOrMore,
        };
        var model = new Option<string>("--model", "-m")
        {
            Description = $"'{ExplainModel.DemoName}' (the built-in demo DenseNet), '{ExplainModel.DemoVitName}' (the built-in demo vision transformer), a model zoo architecture (see 'relevance models') or an ONNX file (.onnx).",
            DefaultValueFactory = _ => ExplainModel.DemoName,
        };
        var onnxInput = OnnxOptions.Input();
        var onnxOutput = OnnxOptions.Output(explain: true);
        var weights = new Option<string?>("--weights", "-w") { Description = "Weights of a zoo model: a .pth (torch.save of a state dict) or .safetensors file. Required for zoo models." };
        var numClasses = new Option<int?>("--num-classes") { Description = "Outputs of a zoo model's classifier [default: 1000]." };
        var allowNonFinite = new Option<bool>("--allow-non-finite-weights") { Description = "Load weights that hold NaN or infinite values instead of refusing them." };
        var demoFolder = new Option<string?>("--demo-folder") { Description = "Folder with the demo model's weights (as written by 'relevance train-demo') [default: the one shipped with the tool]." };
        var method = new Option<string[]>("--method")
        {
            Description = $"{string.Join(", ", MethodRegistry.Names)} (gradient with a composite is LRP; older spellings such as integrated-gradients are accepted). " +
                "Repeatable: several methods (and composites) are explained side by side, each into a folder of its own.",
            DefaultValueFactory = _ => ["gradient"],
        };
        method.AcceptOnlyFromAmong([.. MethodRegistry.All.SelectMany(e => e.Aliases.Prepend(e.Name))]);
        var composite = new Option<string[]>("--composite", "-c")
        {
            Description = "Composite (rule set) by name, see 'relevance composites', optionally with arguments and canonizers as in evaluate's --config: NAME[(ARG=VALUE,...)][+CANONIZER...]; 'gradient' or 'none' for no composite [default: epsilon_plus_flat with --method gradient, none otherwise]. " +
                "Repeatable: each composite is explained with each method that takes one, side by side.",
            DefaultValueFactory = _ => [],
        };
        var arguments = new Option<string[]>("--arg", "-a")
        {
            Description = "A composite argument as name=value (repeatable), e.g. --arg epsilon=0.25 or --arg low=[-2.1,-2.0,-1.8]. For epsilon_gamma_box, low and high default to the normalized pixel range.",
            DefaultValueFactory = _ => [],
        };
        var canonizers = new Option<string[]>("--canonizer")
        {
            Description = "A canonizer by name (repeatable, applied in order), see 'relevance canonizers'.",
            DefaultValueFactory = _ => [],
        };
        var target = new Option<string>("--target", "-t")
        {
            Description = "Class index to explain, or 'predicted' for each image's top class.",
            DefaultValueFactory = _ => "predicted",
        };
        var output = new Option<string>("--output", "-o") { Description = "Output folder.", DefaultValueFactory = _ => "out" };
        var batchSize = new Option<int>("--batch-size", "-b") { Description = "Images per batch.", DefaultValueFactory = _ => 8 };
        var relevanceFormat = new Option<string>("--relevance-format")
        {
            Description = "Also write the relevance, shaped (C, H, W): none, npy or safetensors.",
            DefaultValueFactory = _ => "none",
        };
        relevanceFormat.AcceptOnlyFromAmong("none", "npy", "safetensors");
        var colormap = new Option<string>("--colormap")
        {
            Description = $"Heatmap colors: {string.Join(", ", ColorMap.Names)}, or color-map notation such as 00f,80:fff,f00.",
            DefaultValueFactory = _ => "bwr",
        };
        var heatmapFormat = new Option<string>("--heatmap-format")
        {
            Description = "Format of the heatmaps and overlays: png (lossless), jpeg or webp (quality 95).",
            DefaultValueFactory = _ => "png",
        };
        heatmapFormat.AcceptOnlyFromAmong("png", "jpeg", "webp");
        var overlay = new Option<bool>("--overlay") { Description = "Also write each heatmap laid over its image (<name>.overlay.png)." };
        var conservation = new Option<bool>("--conservation")
        {
            Description = "Also write each image's conservation report (<name>.conservation.txt): for every layer, the relevance entering it, leaving it and absorbed (LRP: --method gradient).",
        };
        var imageSize = new Option<int?>("--image-size")
        {
            Description = "For vision transformers: the side of the images the weights were trained on (e.g. 518 for vit_h_14's SWAG weights); sets --size and --crop to it unless given [default: 224].",
        };
        var size = new Option<int?>("--size") { Description = "Resize the shorter image side to this; 0 keeps each image's size [default: torchvision's for the model's weights: 256 for zoo models (vit_l_16: 242, vit_h_14: 224, --image-size: that size), 256/224 of the input side for ONNX models, 28 for the demo]." };
        var crop = new Option<int?>("--crop") { Description = "Center-crop a square of this side; 0 crops nothing [default: 224 for zoo models (or --size if smaller; --image-size: that size), the graph's input side (224 where open) for ONNX models, 28 for the demo]." };
        var maxPixels = new Option<long>("--max-pixels")
        {
            Description = "Refuse images with more pixels than this, as their header declares them and after resizing.",
            DefaultValueFactory = _ => ImageTransform.DefaultMaxPixels,
        };
        var mean = new Option<string?>("--mean") { Description = "Normalization means, one or one per channel, comma-separated [default: ImageNet's for zoo models and three-channel ONNX models]." };
        var std = new Option<string?>("--std") { Description = "Normalization standard deviations, like --mean." };
        var grayscale = new Option<bool>("--grayscale") { Description = "Read images as one gray channel (the demo model always does)." };
        var iterations = new Option<int?>("--iterations") { Description = $"SmoothGrad samples or Integrated Gradients steps [default: {Default("smoothgrad", "iterations")}]." };
        var noiseLevel = new Option<double?>("--noise-level") { Description = $"SmoothGrad noise, relative to each image's value range [default: {Default("smoothgrad", "noise_level")}]." };
        var seed = new Option<long?>("--seed") { Description = $"Seed of SmoothGrad's noise [default: {Default("smoothgrad", "seed")}]." };
        var window = new Option<int?>("--window") { Description = $"Occlusion window side in pixels [default: {Default("occlusion", "window")}]." };
        var stride = new Option<int?>("--stride") { Description = "Occlusion window step in pixels [default: the window side]." };
        var shard = new Option<string?>("--shard")
        {
            Description = "Explain only shard K of N of the image list: images K, K+N, K+2N, ... in order of file name, K from 0 to N-1. " +
                $"auto/N takes K as given from {Shard.SlurmIndexVariable} (Slurm array job, --array=0-<N-1>) or {Shard.KubernetesIndexVariable} " +
                "(Kubernetes Indexed Job, completions: N). The shard is recorded in <output>/manifest-K-of-N.jsonl [default: 0/1, all images].",
        };
        var resume = new Option<bool>("--resume")
        {
            Description = "Skip the images that the shard's manifest lists as explained and whose files all exist (failed ones are tried again); append the others to the manifest.",
        };
        var threads = new Option<int>("--threads")
        {
            Description = "CPU threads for the model's operations.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };

        var command = new Command("explain", "Explain images with a model: a heatmap PNG per image, and on request overlays and the relevance.")
        {
            inputs, model, onnxInput, onnxOutput, weights, numClasses, allowNonFinite, demoFolder, imageSize, method, composite, arguments, canonizers, target, output, batchSize,
            relevanceFormat, heatmapFormat, colormap, overlay, conservation, size, crop, maxPixels, mean, std, grayscale, iterations, noiseLevel, seed,
            window, stride, shard, resume, threads,
        };
        LayerAndReportOptions extra = LayerAndReportOptions.AddTo(command);
        command.WithExamples(
            "Outputs per input <name>.<ext>: <name>.png (the heatmap, the size of the model input), <name>.overlay.png (--overlay),\n" +
            "<name>.npy or <name>.safetensors (--relevance-format). Everything is checked before anything is written, and each\n" +
            "image's files appear complete or not at all. On a terminal a progress bar shows the rate and the time left.\n\n" +
            "The manifest <output>/manifest-K-of-N.jsonl (manifest-0-of-1.jsonl without --shard) gets a header line (shard, shards,\n" +
            "images in the list, a digest of their names, model, method) and, as soon as each image's files are written, a JSON\n" +
            "line: file, predicted, class, probability, target, outputs, seconds, or error for an image that failed. A run that\n" +
            "is stopped leaves the lines written so far; --resume carries on from there. 'relevance merge-manifests' checks that\n" +
            "the shards together cover the list exactly once.",
            "relevance explain shirt.png",
            "relevance explain photos/ --model resnet50 --weights resnet50.pth --canonizer resnet --output heatmaps",
            "relevance explain photos/ --model model.onnx --composite epsilon_plus_flat",
            "relevance explain cat.jpg -m vgg16 -w vgg16.safetensors -c epsilon_gamma_box --arg gamma=0.5 --target 281 --overlay",
            "relevance explain photos/ -m resnet18 -w model.safetensors --num-classes 10 --relevance-format npy",
            "relevance explain shirt.png --method smoothgrad --iterations 50",
            "relevance explain photos/ -m vit_b_16 -w vit_b_16.pth -c attnlrp --conservation",
            "relevance explain photos/ -m vit_b_16 -w vit_b_16.pth -c cp_lrp --arg conv_gamma=0.25 --arg linear_gamma=0.05",
            "relevance explain photos/ -m vit_b_16 -w vit_b_16.pth --method attention-rollout",
            "relevance explain /shared/photos -m resnet50 -w resnet50.pth -o /shared/heatmaps --shard auto/100 --resume");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            string[] given = Cli.Paths(parse, inputs);
            string? weightsFile = parse.GetValue(weights);
            int? classes = parse.GetValue(numClasses);
            OnnxImport? onnx = OnnxOptions.Open(parse, model, onnxInput, onnxOutput, weights, numClasses, demoFolder, beforeSoftmax: true);
            if (onnx?.Note is { } note)
            {
                writer.WriteLine($"Note: {note}.");
            }
            string modelName = onnx?.Path ?? ExplainModel.CheckName(parse.GetValue(model)!);
            if (ExplainModel.IsDemo(modelName) && weightsFile is not null)
            {
                throw new ArgumentException("--weights is for zoo models; the demo model comes with its own weights (see --demo-folder).");
            }
            if (!ExplainModel.IsDemo(modelName) && parse.GetValue(demoFolder) is not null)
            {
                throw new ArgumentException("--demo-folder is only for the demo model.");
            }
            long? side = parse.GetValue(imageSize);
            if (side is not null && !ExplainModel.IsVisionTransformer(modelName))
            {
                throw new ArgumentException($"--image-size is for the vision transformers ({string.Join(", ", Vision.Models.VisionTransformer.Variants.Keys)}).");
            }
            IReadOnlyList<AttributionSpec> specs = BuildSpecs(parse.GetValue(method) ?? [], parse.GetValue(composite) ?? [], parse.GetValue(arguments) ?? [],
                parse.GetValue(canonizers) ?? [], extra.Layers(parse),
                [
                    ("--iterations", Text(parse.GetValue(iterations))), ("--noise-level", parse.GetValue(noiseLevel) is double noise ? ArgumentSpec.FormatNumber(noise) : null),
                    ("--seed", Text(parse.GetValue(seed))), ("--window", Text(parse.GetValue(window))), ("--stride", Text(parse.GetValue(stride))),
                ]);
            var options = new ExplainOptions
            {
                Inputs = given,
                Transform = BuildTransform(onnx?.DefaultTransform ?? ExplainModel.DefaultTransform(modelName, side), parse.GetValue(size), parse.GetValue(crop),
                    parse.GetValue(mean), parse.GetValue(std), parse.GetValue(grayscale)) with
                { MaxPixels = parse.GetValue(maxPixels) },
                OutputFolder = parse.GetValue(output)!,
                Spec = specs[0],
                TargetClass = ParseTarget(parse.GetValue(target)!),
                BatchSize = parse.GetValue(batchSize),
                RelevanceFormat = Enum.Parse<RelevanceFormat>(parse.GetValue(relevanceFormat)!, ignoreCase: true),
                HeatmapFormat = Enum.Parse<ImageFormat>(parse.GetValue(heatmapFormat)!, ignoreCase: true),
                ColorMap = parse.GetValue(colormap)!,
                Overlay = parse.GetValue(overlay),
                Conservation = parse.GetValue(conservation),
                Shard = parse.GetValue(shard) is { } part ? Shard.Parse(part, Environment.GetEnvironmentVariable) : Shard.All,
                Resume = parse.GetValue(resume),
            };
            options = extra.Apply(parse, options);
            using TorchThreads threadCount = TorchThreads.Use(parse.GetValue(threads));
            RunAll(specs, options, extra.Report(parse), onnx is not null
                    ? () => onnx.Load(options.Transform)
                    : () => ExplainModel.Load(modelName, weightsFile, classes, parse.GetValue(demoFolder), parse.GetValue(allowNonFinite), side),
                writer, parse.InvocationConfiguration.Error);
        }));
        return command;
    }

    /// <summary>
    /// Runs a prepared job: a progress bar on a terminal when there is more than one batch and no per-image lines are
    /// asked for, plain lines otherwise. Returns the summary; images that failed are reported as they fail.
    /// </summary>
    private static ExplainSummary Run(ExplainJob job, ExplainOptions options, TextWriter writer, TextWriter error)
    {
        int count = job.Images.Count;
        writer.WriteLine($"Explaining {count} image{(count == 1 ? "" : "s")}{PartOfList(job, options)} with {job.Model.Description}: {job.Description}.");
        if (job.PatchGrid is { } grid)
        {
            // A heatmap upsampled from patches is never passed off as one of pixels.
            writer.WriteLine($"note: {options.Spec.MethodEntry.Name} gives one value per patch ({grid.Rows} x {grid.Columns} patches of {grid.PatchHeight} x {grid.PatchWidth} pixels); " +
                $"the heatmaps show that grid upsampled to the {grid.Rows * grid.PatchHeight} x {grid.Columns * grid.PatchWidth} input.");
        }
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            ExplainSummary summary;
            bool terminal = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected && job.BatchCount > 1
                && AnsiConsole.Profile.Capabilities.Interactive && options.TopChannels == 0;
            if (terminal)
            {
                summary = AnsiConsole.Progress()
                    .AutoClear(false)
                    .HideCompleted(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(),
                        new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(context =>
                    {
                        ProgressTask task = context.AddTask("explaining", maxValue: count);
                        return job.Run(_ => task.Increment(1), cancel.Token, failure =>
                        {
                            task.Increment(1);
                            ReportFailure(error, failure);
                        });
                    });
            }
            else
            {
                summary = job.Run(image =>
                {
                    writer.WriteLine(Describe(image));
                    foreach (string line in ExplainLayers.Describe(image.TopChannels))
                    {
                        writer.WriteLine(line);
                    }
                }, cancel.Token, failure => ReportFailure(error, failure));
            }
            writer.WriteLine(
                $"Explained {summary.Images} image{(summary.Images == 1 ? "" : "s")} in {summary.Elapsed.TotalSeconds:F1} s " +
                $"({summary.ImagesPerSecond:F1} images/s); wrote {summary.Files} files to {options.OutputFolder}.");
            if (job.ManifestPath is { } manifest)
            {
                writer.WriteLine($"Manifest: {manifest}");
            }
            return summary;
        }
        catch (OperationCanceledException)
        {
            throw new OperationCanceledException("Cancelled; the images finished so far keep their files.");
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    // Which part of the list the images are, when they are not simply all of it.
    private static string PartOfList(ExplainJob job, ExplainOptions options)
    {
        var parts = new List<string>();
        if (options.Shard is { Count: > 1 } shard)
        {
            parts.Add($"shard {shard}: {job.AssignedImages} of {job.ListedImages} images");
        }
        if (job.AssignedImages > job.Images.Count)
        {
            parts.Add($"{job.AssignedImages - job.Images.Count} already done");
        }
        return parts.Count == 0 ? "" : $" ({string.Join("; ", parts)})";
    }

    private static void ReportFailure(TextWriter error, FailedImage failure) =>
        error.WriteLine($"error: {failure.Input}: {failure.Reason}");

    private static string Describe(ExplainedImage image) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(image.Input)}: predicted {image.PredictedName} ({image.Probability * 100:F1}%), target {image.TargetName} -> {image.Outputs[0]}");

    /// <summary>The model's transform with the command line's changes.</summary>
    internal static ImageTransform BuildTransform(ImageTransform defaults, int? size, int? crop, string? mean, string? std, bool grayscale)
    {
        int side = size ?? defaults.Size;
        return defaults with
        {
            Size = side,
            CropSize = crop ?? (side > 0 ? Math.Min(defaults.CropSize, side) : defaults.CropSize),
            Mean = mean is null ? defaults.Mean : ParseNumbers("--mean", mean),
            Std = std is null ? defaults.Std : ParseNumbers("--std", std),
            Grayscale = grayscale || defaults.Grayscale,
        };
    }

    private static float[] ParseNumbers(string option, string text)
    {
        var values = new List<float>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!float.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out float value))
            {
                throw new ArgumentException($"{option} takes comma-separated numbers; '{part}' is not a number.");
            }
            values.Add(value);
        }
        return values.ToArray();
    }

    /// <summary>
    /// The attribution spec of the command line: the method, its arguments from the options it declares, and the
    /// composite text (NAME[(ARGS)][+CANONIZERS], the composite part of the spec's text form; 'gradient' or 'none' for no
    /// composite) to which --arg and --canonizer add. Without --composite, the gradient is LRP with epsilon_plus_flat and
    /// the other methods take none.
    /// </summary>
    private static AttributionSpec BuildSpec(string methodName, string? compositeText, IReadOnlyList<string> arguments, IReadOnlyList<string> canonizers,
        IReadOnlyList<(string Option, string? Value)> methodOptions)
    {
        MethodEntry entry = MethodRegistry.Get(methodName);
        var methodArguments = new List<string>();
        foreach (var (option, value) in methodOptions.Where(o => o.Value is not null))
        {
            string argument = MethodOptions.Single(m => m.Option == option).Argument;
            if (entry.Arguments.Any(a => a.Name == argument))
            {
                methodArguments.Add($"{argument}={value}");
            }
        }
        CompositeSpec? given = compositeText is null ? null : CompositeSpec.Parse(compositeText);
        bool none = given is { Name: MethodRegistry.NoComposite } || given?.Name == Gradient.Entry.Name;
        if (none && given!.Arguments.Count > 0)
        {
            throw new ArgumentException($"--composite {compositeText}: '{given.Name}' means no composite, which takes no arguments.");
        }
        string? composite = given is null ? (entry == Gradient.Entry ? DefaultComposite : null) : none ? null : given.Name;
        return AttributionSpec.Create(entry.Name, methodArguments, composite, [.. given?.Arguments ?? [], .. arguments],
            [.. given?.Canonizers ?? [], .. canonizers]);
    }

    private static string? Text(long? value) => value?.ToString(CultureInfo.InvariantCulture);

    // The composite of LRP when --composite is not given.
    private const string DefaultComposite = "epsilon_plus_flat";

    // A method argument's default, as its registry entry declares it, for the help.
    private static string Default(string method, string argument) =>
        MethodRegistry.Get(method).Arguments.Single(a => a.Name == argument).Default ?? "none";

    private static long? ParseTarget(string text)
    {
        if (string.Equals(text, "predicted", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long index))
        {
            return index;
        }
        throw new ArgumentException($"--target must be a class index or 'predicted'; got '{text}'.");
    }

    /// <summary>Images per second, from the task's recent progress.</summary>
    private sealed class RateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(string.Create(CultureInfo.InvariantCulture, $"{task.Speed ?? 0:F1} images/s"));
    }
}
