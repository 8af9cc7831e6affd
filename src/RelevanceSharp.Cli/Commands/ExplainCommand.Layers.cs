using System.CommandLine;
using System.Globalization;
using RelevanceSharp.Attribution;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Cli.Reports;
using RelevanceSharp.Vision.Imaging;

namespace RelevanceSharp.Cli.Commands;

/// <summary>
/// The parts of <c>relevance explain</c> that go beyond one configuration's heatmaps: results at named layers
/// (<c>--layer</c>, <c>--top-channels</c>), several methods and composites side by side, and the HTML report
/// (<c>--report</c>).
/// </summary>
public static partial class ExplainCommand
{
    private const string LayerOption = "--layer";

    /// <summary>
    /// The specs of the command line: each method with each composite it takes (those given, or its default), in the
    /// order given; a method that takes no composite once. A method that names a layer (Grad-CAM) takes it from
    /// <c>--layer</c>.
    /// </summary>
    private static IReadOnlyList<AttributionSpec> BuildSpecs(IReadOnlyList<string> methods, IReadOnlyList<string> composites, IReadOnlyList<string> arguments,
        IReadOnlyList<string> canonizers, IReadOnlyList<string> layers, IReadOnlyList<(string Option, string? Value)> methodOptions)
    {
        var specs = new List<AttributionSpec>();
        foreach (string methodName in methods.Count == 0 ? ["gradient"] : methods)
        {
            MethodEntry entry = MethodRegistry.Get(methodName);
            bool namesLayer = entry.Arguments.Any(a => a.Name == "layer");
            // Without a layer, the planner names a few of the model's once it is loaded.
            if (namesLayer && layers.Count > 1)
            {
                throw new ArgumentException($"{LayerOption}: {entry.Name} explains one layer; give exactly one {LayerOption} NAME with it.");
            }
            // With one method, a composite it cannot take is refused by the spec; with several, it goes to those that take one.
            IReadOnlyList<string?> forMethod = composites.Count == 0 || (!entry.TakesComposite && methods.Count > 1) ? [null] : [.. composites];
            foreach (string? composite in forMethod)
            {
                specs.Add(BuildSpec(entry.Name, composite, arguments, canonizers,
                    [.. methodOptions, (LayerOption, namesLayer && layers.Count == 1 ? layers[0] : null)]));
            }
        }
        var distinct = specs.DistinctBy(s => s.Name).ToList();
        return distinct;
    }

    /// <summary>
    /// Prepares a job per spec (each checked before anything is written), runs them in turn (with several, each into a
    /// folder of the output folder named after its spec) and, with <paramref name="report"/>, writes <c>report.html</c>.
    /// Failed images are counted over all runs and reported at the end.
    /// </summary>
    private static void RunAll(IReadOnlyList<AttributionSpec> specs, ExplainOptions options, bool report, Func<ExplainModel> load,
        TextWriter writer, TextWriter error)
    {
        if (report && options.Shard is { Count: > 1 })
        {
            throw new ArgumentException("--report makes one page of the whole image list, and a shard (--shard K/N with N > 1) explains only part of it; leave one of them out.");
        }
        IReadOnlyList<string> folders = specs.Count == 1 ? [options.OutputFolder] : Folders(options.OutputFolder, specs);
        var jobs = new List<ExplainJob>();
        try
        {
            for (int i = 0; i < specs.Count; i++)
            {
                jobs.Add(ExplainJob.Prepare(options with { Spec = specs[i], OutputFolder = folders[i] }, load));
            }
            var notes = new List<string>();
            var runs = new List<ReportedRun>();
            int failures = 0, images = 0;
            string? firstFailure = null;
            for (int i = 0; i < jobs.Count; i++)
            {
                ExplainJob job = jobs[i];
                ExplainOptions jobOptions = options with { Spec = specs[i], OutputFolder = folders[i] };
                foreach (string note in UpsamplingNotes(job, specs[i]))
                {
                    writer.WriteLine($"note: {note}");
                    notes.Add(note);
                }
                ExplainSummary summary = Run(job, jobOptions, writer, error);
                failures += summary.Failures.Count;
                images += job.Images.Count;
                firstFailure ??= summary.Failures.FirstOrDefault()?.Input;
                if (job.ManifestPath is { } manifest)
                {
                    runs.Add(new ReportedRun(specs[i].Name, job.Description, manifest, options.Layers, ImageIO.Extension(options.HeatmapFormat)));
                }
            }
            if (report)
            {
                writer.WriteLine($"Report: {ExplainReport.Write(options.OutputFolder, jobs[0].Model.Description, runs, notes)}");
            }
            if (failures > 0)
            {
                throw new InvalidOperationException(
                    $"{failures} of {images} images failed with NaN or infinite relevance and have no files " +
                    $"(first: {Path.GetFileName(firstFailure)}); the others were written, and --resume tries the failed ones again.");
            }
        }
        finally
        {
            jobs.ForEach(j => j.Dispose());
        }
    }

    // One folder per spec, named after it: letters, digits, dots and dashes kept, every other run of characters one '_'.
    private static IReadOnlyList<string> Folders(string output, IReadOnlyList<AttributionSpec> specs)
    {
        var names = new List<string>();
        foreach (AttributionSpec spec in specs)
        {
            var text = new System.Text.StringBuilder();
            foreach (char c in spec.Name.ToLowerInvariant())
            {
                bool keep = char.IsAsciiLetterOrDigit(c) || c is '.' or '-';
                if (keep || (text.Length > 0 && text[^1] != '_'))
                {
                    text.Append(keep ? c : '_');
                }
            }
            string name = text.ToString().Trim('_');
            string unique = name;
            for (int n = 2; names.Contains(unique, StringComparer.OrdinalIgnoreCase); n++)
            {
                unique = $"{name}_{n}";
            }
            names.Add(unique);
        }
        return names.Select(n => Path.Combine(output, n)).ToList();
    }

    // What a Grad-CAM run says about its map's resolution, never leaving the upsampling unsaid.
    private static IEnumerable<string> UpsamplingNotes(ExplainJob job, AttributionSpec spec)
    {
        var (layer, upsampling, guided) = job.Attributor switch
        {
            GradCam cam => (cam.Layer, cam.Upsampling, false),
            GuidedGradCam cam => (cam.Layer, cam.Upsampling, true),
            _ => (null, Upsampling.Nearest, false),
        };
        if (layer is null || !job.LayerShapes.TryGetValue(layer, out long[]? shape) || job.InputShape.Length < 3)
        {
            yield break;
        }
        string map = string.Join("x", shape.Skip(1)), input = string.Join("x", job.InputShape.Skip(1));
        string mode = upsampling.ToString().ToLowerInvariant();
        yield return map == input
            ? $"{spec.Name}: the Grad-CAM map at {layer} has the input's resolution, {input}; nothing is upsampled."
            : guided
                ? $"{spec.Name}: the Grad-CAM map at {layer} is {map}; it is upsampled to {input} ({mode}) before it multiplies guided " +
                  $"backpropagation, and <name>.{layer} keeps it at {map}."
                : $"{spec.Name}: the Grad-CAM map at {layer} is {map}; the heatmaps, overlays and relevance files are upsampled to {input} " +
                  $"({mode}), and <name>.{layer} keeps it at {map}.";
    }

    /// <summary>The options of layers and reports, declared together so that the command's own list stays short.</summary>
    private sealed class LayerAndReportOptions
    {
        private readonly Option<string[]> layer = new(LayerOption)
        {
            Description = "A layer by its dotted name (repeatable), e.g. features.denseblock3: also writes what reaches its output in the same " +
                "backward pass (the relevance under a composite, the gradient without), summed over channels as <name>.<layer>.png at the " +
                "layer's resolution, and with --relevance-format its raw tensor (C, h, w). For gradcam and guided_gradcam: the layer they explain.",
            DefaultValueFactory = _ => [],
        };

        private readonly Option<int?> topChannels = new("--top-channels")
        {
            Description = "List, per image and --layer, the K channels holding the most relevance for the target: the largest sums of each " +
                "channel's signed relevance over its positions (printed, and recorded in the manifest).",
        };

        private readonly Option<bool> report = new("--report")
        {
            Description = "Also write report.html into the output folder: one page (no network) with a sortable, filterable table of the images, " +
                "their predicted class and probability, and each configuration's heatmap and overlay side by side (implies --overlay; " +
                "writes <name>.input.png, the image as the model saw it).",
        };

        public static LayerAndReportOptions AddTo(Command command)
        {
            var options = new LayerAndReportOptions();
            command.Options.Add(options.layer);
            command.Options.Add(options.topChannels);
            command.Options.Add(options.report);
            return options;
        }

        public IReadOnlyList<string> Layers(ParseResult parse) => parse.GetValue(layer) ?? [];

        public bool Report(ParseResult parse) => parse.GetValue(report);

        public ExplainOptions Apply(ParseResult parse, ExplainOptions options)
        {
            int? top = parse.GetValue(topChannels);
            if (top is < 1)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--top-channels must be at least 1; got {top}."));
            }
            bool withReport = Report(parse);
            return options with
            {
                Layers = Layers(parse),
                TopChannels = top ?? 0,
                WriteInput = withReport,
                Overlay = options.Overlay || withReport,
            };
        }
    }
}
