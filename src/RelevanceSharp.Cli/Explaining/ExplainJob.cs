using System.Diagnostics;
using System.Globalization;
using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.IO;
using RelevanceSharp.Imaging;
using RelevanceSharp.Platform;
using RelevanceSharp.Vision.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>One explained image: what the model predicted, which class was explained and the files written.</summary>
/// <param name="Input">The image file.</param>
/// <param name="Predicted">The class with the highest score.</param>
/// <param name="PredictedName">Its name (the index when the model has no class names).</param>
/// <param name="Probability">Its softmax probability.</param>
/// <param name="Target">The class explained.</param>
/// <param name="TargetName">Its name.</param>
/// <param name="Outputs">The files written, heatmap first.</param>
public sealed record ExplainedImage(
    string Input, long Predicted, string PredictedName, double Probability, long Target, string TargetName, IReadOnlyList<string> Outputs)
{
    /// <summary>The image's time: its share of its batch's attribution and the writing of its files.</summary>
    public double Seconds { get; init; }
}

/// <summary>An image whose attribution was not finite: no files were written for it.</summary>
/// <param name="Input">The image file.</param>
/// <param name="Reason">What went wrong, from <see cref="NonFiniteAttributionException"/>.</param>
public sealed record FailedImage(string Input, string Reason)
{
    /// <summary>The image's time: its share of its batch's attribution and the diagnosis.</summary>
    public double Seconds { get; init; }
}

/// <summary>What a run of an <see cref="ExplainJob"/> did.</summary>
/// <param name="Images">Images explained.</param>
/// <param name="Files">Files written.</param>
/// <param name="Elapsed">Wall-clock time of the run.</param>
/// <param name="Failures">Images left without files because their attribution held NaN or infinite values.</param>
public sealed record ExplainSummary(int Images, int Files, TimeSpan Elapsed, IReadOnlyList<FailedImage> Failures)
{
    /// <summary>Images per second.</summary>
    public double ImagesPerSecond => Elapsed.TotalSeconds > 0 ? Images / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Explains a list of image files with one model: heatmap PNGs (and optionally overlays and the relevance itself)
/// in an output folder. <see cref="Prepare"/> checks everything it can before anything is written: the inputs
/// exist and decode, the names of composite, canonizers and color map are known, the composite's arguments fit,
/// the weights fit the model, the model takes the inputs and the target class exists. <see cref="Run"/> then works
/// through the images in batches, each in its own dispose scope so that memory stays flat, and writes the files of
/// each image atomically: if a run fails, the images already done keep their files and the failing one leaves none.
/// With <see cref="ExplainOptions.Shard"/> the job explains one part of the list and records each image in the part's
/// manifest (<see cref="ExplainManifest"/>) once its files are written; with <see cref="ExplainOptions.Resume"/> it
/// leaves out the images that manifest already has.
/// </summary>
public sealed class ExplainJob : IDisposable
{
    // The CPU guard must be in force before this type runs its first convolution.
    static ExplainJob() => CpuGuard.Ensure();

    private const int OcclusionBatchSize = 4;

    private readonly ExplainOptions options;
    private readonly Composite? composite;
    private readonly Attributor attributor;
    private readonly IReadOnlyList<PlannedImage> planned;
    private readonly IReadOnlyList<(int Start, int Count)> batches;
    private readonly HeatmapOptions heatmap;
    private readonly ManifestHeader? header;

    private ExplainJob(ExplainOptions options, ExplainModel model, Composite? composite, IReadOnlyList<PlannedImage> planned,
        IReadOnlyList<(int Start, int Count)> batches, long classes, ManifestHeader? header)
    {
        this.options = options;
        this.composite = composite;
        this.planned = planned;
        this.batches = batches;
        this.header = header;
        Model = model;
        Classes = classes;
        heatmap = new HeatmapOptions(options.ColorMap);
        attributor = CreateAttributor(options, model.Module, composite);
    }

    /// <summary>The model; the job owns it and disposes it.</summary>
    public ExplainModel Model { get; }

    /// <summary>The number of outputs (classes) of the model; 0 when there is no image to explain, which leaves nothing to probe.</summary>
    public long Classes { get; }

    /// <summary>The image files, in the order they are explained (those of the part, less those a resumed run skips).</summary>
    public IReadOnlyList<string> Images => planned.Select(p => p.Input).ToList();

    /// <summary>The images of the whole list, all parts together.</summary>
    public int ListedImages => header?.Images ?? planned.Count;

    /// <summary>The images of the part (<see cref="ExplainOptions.Shard"/>), those a resumed run skips included.</summary>
    public int AssignedImages => header?.Assigned ?? planned.Count;

    /// <summary>The part's manifest, or <c>null</c> when the job explains the whole list without one.</summary>
    public string? ManifestPath => options.Shard is { } shard ? Path.Combine(options.OutputFolder, shard.ManifestName) : null;

    /// <summary>The number of batches <see cref="Run"/> processes.</summary>
    public int BatchCount => batches.Count;

    /// <summary>What is computed, in one line (method, composite, canonizers, target).</summary>
    public string Description => Describe(options, composite, Model);

    private static string Describe(ExplainOptions options, Composite? composite, ExplainModel model)
    {
        string method = options.Method switch
        {
            AttributionMethod.Gradient when composite is not null && options.Composite is not null => $"LRP with {options.Composite}",
            AttributionMethod.Gradient => "gradient",
            AttributionMethod.SmoothGrad => $"SmoothGrad ({options.Iterations} samples, noise {options.NoiseLevel.ToString(CultureInfo.InvariantCulture)})",
            AttributionMethod.IntegratedGradients => $"Integrated Gradients ({options.Iterations} steps)",
            _ => $"occlusion (window {options.OcclusionWindow}, stride {options.OcclusionStride ?? options.OcclusionWindow})",
        };
        if (options.Method is AttributionMethod.SmoothGrad or AttributionMethod.IntegratedGradients && options.Composite is not null)
        {
            method += $" of LRP with {options.Composite}";
        }
        if (options.Canonizers.Count > 0)
        {
            method += $", canonizers {string.Join(", ", options.Canonizers)}";
        }
        string target = options.TargetClass is long t ? $"class {model.ClassName(t)}" : "the predicted class";
        return $"{method}; explaining {target}";
    }

    /// <summary>
    /// Checks the options, finds the images, loads the model and checks that everything fits, without writing
    /// anything. The model from <paramref name="loadModel"/> is owned by the job (and disposed if preparing fails).
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid or does not fit the model or the images.</exception>
    /// <exception cref="FileNotFoundException">An input or the weights file does not exist.</exception>
    /// <exception cref="InvalidDataException">An image cannot be decoded, or the weights do not fit.</exception>
    public static ExplainJob Prepare(ExplainOptions options, Func<ExplainModel> loadModel)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loadModel);
        CheckNumbers(options);
        options.Transform.Validate();
        ColorMap.Get(options.ColorMap);
        Composite? composite = ExplainComposite.Create(options.Composite, options.Transform, options.CompositeArguments, options.Canonizers);
        IReadOnlyList<PlannedImage> listed = Plan(options);
        IReadOnlyList<PlannedImage> assigned = options.Shard?.Select(listed) ?? listed;

        ExplainModel model = loadModel();
        try
        {
            ManifestHeader? header = options.Shard is { } shard
                ? new ManifestHeader
                {
                    Shard = shard.Index,
                    Shards = shard.Count,
                    Images = listed.Count,
                    Assigned = assigned.Count,
                    List = ExplainManifest.ListDigest(listed.Select(p => Path.GetFileName(p.Input))),
                    Model = model.Description,
                    Method = Describe(options, composite, model),
                }
                : null;
            IReadOnlyList<PlannedImage> planned = options.Resume ? Unfinished(assigned, Path.Combine(options.OutputFolder, options.Shard!.ManifestName), header!) : assigned;
            if (planned.Count == 0)
            {
                return new ExplainJob(options, model, composite, planned, [], 0, header);
            }
            var (shapes, first) = DecodeAll(planned, options.Transform);
            using (first)
            {
                long classes = Probe(options, model, composite, first, shapes.Distinct(ShapeComparer.Instance));
                if (options.TargetClass is long target && (target < 0 || target >= classes))
                {
                    throw new ArgumentException(
                        $"Target class {target} is out of range: {model.Description} has {classes} classes (0 to {classes - 1}).");
                }
                return new ExplainJob(options, model, composite, planned, Batches(shapes, options.BatchSize), classes, header);
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Explains every image, batch by batch, creating the output folder first. <paramref name="onImage"/> is called
    /// after the files of each image are written. An image whose attribution holds NaN or infinite values gets no
    /// files: it goes to <paramref name="onFailure"/>, with the attributor's account of where the values stopped being
    /// finite, and into the summary's failures, and the other images go on. With a part to explain, each image, and
    /// each failure, gets its line in the part's manifest right after its files are written; the manifest is written
    /// (with its header) even when there is nothing left to explain.
    /// </summary>
    /// <exception cref="IOException">The manifest cannot be opened, e.g. because another run of the part holds it.</exception>
    public ExplainSummary Run(Action<ExplainedImage>? onImage = null, CancellationToken cancellationToken = default, Action<FailedImage>? onFailure = null)
    {
        Directory.CreateDirectory(options.OutputFolder);
        using ManifestWriter? manifest = header is null ? null : ManifestWriter.Open(ManifestPath!, header, options.Resume);
        var clock = Stopwatch.StartNew();
        int images = 0, files = 0;
        var failures = new List<FailedImage>();
        // Non-finite results are sorted out per image below instead of failing the whole batch.
        attributor.RequireFinite = false;
        // LRP registers the composite once for all batches; the other methods need a plain forward pass for the
        // predictions first, which must not run through the rules' hooks, so they register it per call.
        using IDisposable? registration = options.Method == AttributionMethod.Gradient ? attributor.Scope() : null;
        foreach (var (start, count) in batches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            long batchStart = Stopwatch.GetTimestamp();
            var images01 = new List<Tensor>(count);
            for (int i = start; i < start + count; i++)
            {
                images01.Add(ImageIO.Prepare(ImageIO.Load(planned[i].Input, options.Transform.Grayscale, options.Transform.MaxPixels), options.Transform));
            }
            Tensor input = ImageIO.Normalize(stack(images01), options.Transform.Mean, options.Transform.Std);
            var (output, relevance) = Attribute(input);
            Tensor probabilities = nn.functional.softmax(output, 1);
            long[] predicted = output.argmax(1).data<long>().ToArray();
            bool[] finite = FiniteSamples(output, relevance);
            double share = Stopwatch.GetElapsedTime(batchStart).TotalSeconds / count;
            for (int k = 0; k < count; k++)
            {
                PlannedImage image = planned[start + k];
                long imageStart = Stopwatch.GetTimestamp();
                if (!finite[k])
                {
                    var failure = new FailedImage(image.Input, Diagnose(input.narrow(0, k, 1), predicted[k]))
                    {
                        Seconds = share + Stopwatch.GetElapsedTime(imageStart).TotalSeconds,
                    };
                    manifest?.Add(new ManifestEntry { File = failure.Input, Error = failure.Reason, Seconds = Math.Round(failure.Seconds, 3) });
                    failures.Add(failure);
                    onFailure?.Invoke(failure);
                    continue;
                }
                long target = options.TargetClass ?? predicted[k];
                double probability = probabilities[k, predicted[k]].ToDouble();
                WriteOutputs(image, images01[k], relevance[k], target);
                images++;
                files += image.Outputs.Count;
                var explained = new ExplainedImage(image.Input, predicted[k], Model.ClassName(predicted[k]), probability,
                    target, Model.ClassName(target), image.Outputs.Select(o => o.Path).ToList())
                {
                    Seconds = share + Stopwatch.GetElapsedTime(imageStart).TotalSeconds,
                };
                manifest?.Add(new ManifestEntry
                {
                    File = explained.Input,
                    Predicted = explained.Predicted,
                    Class = explained.PredictedName,
                    Probability = Math.Round(explained.Probability, 6),
                    Target = explained.Target,
                    Outputs = explained.Outputs.Select(o => Path.GetFileName(o)).ToList(),
                    Seconds = Math.Round(explained.Seconds, 3),
                });
                onImage?.Invoke(explained);
            }
        }
        return new ExplainSummary(images, files, clock.Elapsed, failures);
    }

    // Whether each sample's output and relevance are finite.
    private static bool[] FiniteSamples(Tensor output, Tensor relevance)
    {
        using var scope = NewDisposeScope();
        return (isfinite(output).flatten(1).all(1) & isfinite(relevance).flatten(1).all(1)).data<bool>().ToArray();
    }

    // The attributor's own account of one failed image, from a repeated attribution with checks.
    private string Diagnose(Tensor image, long predicted)
    {
        attributor.RequireFinite = true;
        try
        {
            using AttributionResult repeated = attributor.Attribute(image, TargetFor([options.TargetClass ?? predicted]));
            return $"{attributor.GetType().Name} with {attributor.Configuration} gave NaN or infinite values in its batch, " +
                "and finite ones when repeated alone: the fault is not reproducible, which on a virtual machine is typical of " +
                "libtorch's CPU kernels (run 'relevance doctor')";
        }
        catch (NonFiniteAttributionException ex)
        {
            return ex.Message.TrimEnd('.');
        }
        finally
        {
            attributor.RequireFinite = false;
        }
    }

    /// <summary>Releases the model.</summary>
    public void Dispose() => Model.Dispose();

    private (Tensor Output, Tensor Relevance) Attribute(Tensor input)
    {
        if (options.Method == AttributionMethod.Gradient)
        {
            AttributionTarget target = options.TargetClass is long t ? AttributionTarget.Class(t) : AttributionTarget.Predicted;
            AttributionResult result = attributor.Attribute(input, target);
            return (result.Output, result.Relevance);
        }
        long[] classes;
        using (no_grad())
        {
            Tensor output = Model.Module.call(input);
            classes = options.TargetClass is long t
                ? Enumerable.Repeat(t, (int)input.shape[0]).ToArray()
                : output.argmax(1).data<long>().ToArray();
        }
        AttributionResult attributed = attributor.Attribute(input, TargetFor(classes));
        return (attributed.Output, attributed.Relevance);
    }

    // Each sample's class: occlusion scores the class output itself, the gradient methods seed its one-hot vector.
    private AttributionTarget TargetFor(long[] classes) => options.Method == AttributionMethod.Occlusion
        ? AttributionTarget.FromFunction(o => o * nn.functional.one_hot(tensor(classes, device: o.device), o.shape[1]).to(o.dtype), "class scores")
        : AttributionTarget.Classes(classes);

    private void WriteOutputs(PlannedImage image, Tensor picture, Tensor relevance, long target)
    {
        using var scope = NewDisposeScope();
        Tensor heat = Heatmap.Render(relevance, heatmap);
        var files = new List<(string Path, byte[] Bytes)>(image.Outputs.Count);
        foreach (var (path, kind) in image.Outputs)
        {
            byte[] bytes = kind switch
            {
                OutputKind.Heatmap => ImageIO.Encode(heat, options.HeatmapFormat),
                OutputKind.Overlay => ImageIO.Encode(Heatmap.Overlay(heat, picture), options.HeatmapFormat),
                OutputKind.Npy => Npy.Encode(relevance),
                _ => SafeTensors.Encode(
                    new Dictionary<string, Tensor> { ["relevance"] = relevance },
                    new Dictionary<string, string>
                    {
                        ["input"] = Path.GetFileName(image.Input),
                        ["model"] = Model.Description,
                        ["target"] = target.ToString(CultureInfo.InvariantCulture),
                        ["method"] = Description,
                    }),
            };
            files.Add((path, bytes));
        }
        AtomicFile.WriteAll(files);
    }

    private static void CheckNumbers(ExplainOptions options)
    {
        if (options.BatchSize < 1)
        {
            throw new ArgumentException($"The batch size must be at least 1; got {options.BatchSize}.");
        }
        if (options.Iterations < 1)
        {
            throw new ArgumentException($"The number of iterations must be at least 1; got {options.Iterations}.");
        }
        if (!(options.NoiseLevel >= 0) || double.IsInfinity(options.NoiseLevel))
        {
            throw new ArgumentException($"The noise level must be a non-negative number; got {options.NoiseLevel}.");
        }
        if (options.OcclusionWindow < 1 || options.OcclusionStride is < 1)
        {
            throw new ArgumentException("The occlusion window and stride must be at least 1 pixel.");
        }
        if (options.Method == AttributionMethod.Occlusion && (options.Composite is not null || options.Canonizers.Count > 0))
        {
            throw new ArgumentException("Occlusion uses no gradient, so it takes no composite and no canonizers.");
        }
        if (options.TargetClass is < 0)
        {
            throw new ArgumentException($"Target class {options.TargetClass} is out of range: classes are numbered from 0.");
        }
        if (options.Resume && options.Shard is null)
        {
            throw new ArgumentException("Resuming needs a shard to explain (0/1 for all images), whose manifest tells what is done.");
        }
    }

    /// <summary>
    /// The images of <paramref name="assigned"/> that a resumed run still has to explain: all but those whose last line
    /// in the manifest at <paramref name="path"/> has no error and whose files (as this run would name them) all exist.
    /// A manifest of another run (another split, image list, model or method) is refused; a missing one, or one cut
    /// short before its header was complete, means that nothing is done yet.
    /// </summary>
    private static IReadOnlyList<PlannedImage> Unfinished(IReadOnlyList<PlannedImage> assigned, string path, ManifestHeader header)
    {
        if (!File.Exists(path))
        {
            return assigned;
        }
        ManifestContent content = ExplainManifest.Read(path);
        if (content.Header is not { } found)
        {
            return assigned;
        }
        string? difference = found.Shard != header.Shard
            ? $"it is shard {found.Shard}/{found.Shards}, not {header.Shard}/{header.Shards}"
            : ExplainManifest.Difference(found, header);
        if (difference is not null)
        {
            throw new ArgumentException(
                $"Cannot resume with the manifest '{path}': {difference}. Resume with the same inputs and options, or remove the manifest to start afresh.");
        }
        IReadOnlyDictionary<string, ManifestEntry> latest = content.Latest();
        return assigned
            .Where(image => !(latest.TryGetValue(Path.GetFileName(image.Input), out ManifestEntry? entry) && entry.Error is null
                && image.Outputs.All(o => File.Exists(o.Path))))
            .ToList();
    }

    /// <summary>
    /// Finds the images, in their canonical order (<see cref="ImageFiles.SortByName"/>), and names their outputs; refuses
    /// names that clash with each other or with an input. Every part checks the whole list, so that all refuse alike.
    /// </summary>
    private static IReadOnlyList<PlannedImage> Plan(ExplainOptions options)
    {
        IReadOnlyList<string> inputs = ImageFiles.SortByName(ImageFiles.Find(options.Inputs));
        if (File.Exists(options.OutputFolder))
        {
            throw new ArgumentException($"The output folder '{options.OutputFolder}' is a file.");
        }
        StringComparer names = OperatingSystem.IsLinux() ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase;
        var inputPaths = new HashSet<string>(inputs.Select(Path.GetFullPath), names);
        if (options.Shard is { } shard && inputPaths.Contains(Path.GetFullPath(Path.Combine(options.OutputFolder, shard.ManifestName))))
        {
            throw new ArgumentException($"The manifest '{shard.ManifestName}' would overwrite the input of that name; choose another output folder.");
        }
        var owners = new Dictionary<string, string>(names);
        var result = new List<PlannedImage>(inputs.Count);
        foreach (string input in inputs)
        {
            string stem = Path.GetFileNameWithoutExtension(input);
            string extension = ImageIO.Extension(options.HeatmapFormat);
            var outputs = new List<(string, OutputKind)> { (stem + extension, OutputKind.Heatmap) };
            if (options.Overlay)
            {
                outputs.Add((stem + ".overlay" + extension, OutputKind.Overlay));
            }
            if (options.RelevanceFormat == RelevanceFormat.Npy)
            {
                outputs.Add((stem + ".npy", OutputKind.Npy));
            }
            else if (options.RelevanceFormat == RelevanceFormat.SafeTensors)
            {
                outputs.Add((stem + ".safetensors", OutputKind.SafeTensors));
            }
            var paths = outputs.Select(o => (Path.Combine(options.OutputFolder, o.Item1), o.Item2)).ToList();
            foreach (var (path, _) in paths)
            {
                string full = Path.GetFullPath(path);
                if (inputPaths.Contains(full))
                {
                    throw new ArgumentException($"The output '{path}' would overwrite the input image of that name; choose another output folder.");
                }
                if (owners.TryGetValue(full, out string? other))
                {
                    throw new ArgumentException($"'{other}' and '{input}' would both write '{path}'; rename one of them or explain them separately.");
                }
                owners[full] = input;
            }
            result.Add(new PlannedImage(input, paths));
        }
        return result;
    }

    /// <summary>Decodes and prepares every image; returns their shapes and the first one as a model input.</summary>
    private static (List<long[]> Shapes, Tensor First) DecodeAll(IReadOnlyList<PlannedImage> planned, ImageTransform transform)
    {
        var shapes = new List<long[]>(planned.Count);
        Tensor? first = null;
        try
        {
            foreach (PlannedImage image in planned)
            {
                using var scope = NewDisposeScope();
                Tensor decoded = ImageIO.Load(image.Input, transform.Grayscale, transform.MaxPixels);
                Tensor prepared;
                try
                {
                    prepared = ImageIO.Prepare(decoded, transform);
                }
                catch (ArgumentException ex)
                {
                    throw new ArgumentException($"Cannot prepare image '{image.Input}': {Plain(ex)}", ex);
                }
                shapes.Add(prepared.shape);
                first ??= ImageIO.Normalize(prepared, transform.Mean, transform.Std).unsqueeze(0).MoveToOuterDisposeScope();
            }
        }
        catch
        {
            first?.Dispose();
            throw;
        }
        return (shapes, first!);
    }

    /// <summary>
    /// Runs the model once per distinct input shape, and the attribution once on the first image (except for
    /// occlusion, which would take many passes), so that a model that refuses the inputs or a composite that does
    /// not fit it fails now. Returns the number of classes.
    /// </summary>
    private static long Probe(ExplainOptions options, ExplainModel model, Composite? composite, Tensor first, IEnumerable<long[]> shapes)
    {
        using var scope = NewDisposeScope();
        long classes = -1;
        foreach (long[] shape in shapes)
        {
            Tensor probe = zeros(new long[] { 1 }.Concat(shape).ToArray());
            Tensor output;
            using (no_grad())
            {
                try
                {
                    output = model.Module.call(probe);
                }
                catch (Exception ex) when (InputChecks.IsModelRejection(ex))
                {
                    throw InputChecks.Explain(model.Module, probe, ex);
                }
            }
            if (output.dim() != 2)
            {
                throw new ArgumentException(
                    $"{model.Description} gives outputs of shape {TensorShapes.Format(output.shape)}; explaining a class needs (N, classes).");
            }
            classes = output.shape[1];
        }
        if (options.Method != AttributionMethod.Occlusion)
        {
            // Whether the values are finite is settled per image when the job runs, where a failure names its image.
            using AttributionResult result = new Gradient(model.Module, composite) { RequireFinite = false }.Attribute(first, AttributionTarget.Predicted);
        }
        return classes;
    }

    /// <summary>Consecutive images of the same shape, at most <paramref name="size"/> at a time.</summary>
    private static List<(int Start, int Count)> Batches(List<long[]> shapes, int size)
    {
        var result = new List<(int, int)>();
        int start = 0;
        for (int i = 1; i <= shapes.Count; i++)
        {
            if (i == shapes.Count || i - start == size || !shapes[i].SequenceEqual(shapes[start]))
            {
                result.Add((start, i - start));
                start = i;
            }
        }
        return result;
    }

    private static Attributor CreateAttributor(ExplainOptions options, nn.Module<Tensor, Tensor> model, Composite? composite) => options.Method switch
    {
        AttributionMethod.Gradient => new Gradient(model, composite),
        AttributionMethod.SmoothGrad => new SmoothGrad(model, composite, noiseLevel: options.NoiseLevel, iterations: options.Iterations, seed: options.Seed),
        AttributionMethod.IntegratedGradients => new IntegratedGradients(model, composite, iterations: options.Iterations),
        AttributionMethod.Occlusion => new Occlusion(model,
            window: new long[] { options.OcclusionWindow, options.OcclusionWindow },
            stride: new long[] { options.OcclusionStride ?? options.OcclusionWindow, options.OcclusionStride ?? options.OcclusionWindow },
            batchSize: OcclusionBatchSize),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Method, "Unknown attribution method."),
    };

    /// <summary>The message of an argument exception without the parameter name .NET appends.</summary>
    private static string Plain(ArgumentException ex) =>
        ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal);

    private enum OutputKind
    {
        Heatmap,
        Overlay,
        Npy,
        SafeTensors,
    }

    private sealed record PlannedImage(string Input, IReadOnlyList<(string Path, OutputKind Kind)> Outputs);

    private sealed class ShapeComparer : IEqualityComparer<long[]>
    {
        public static ShapeComparer Instance { get; } = new();

        public bool Equals(long[]? x, long[]? y) => x is not null && y is not null && x.SequenceEqual(y);

        public int GetHashCode(long[] obj) => obj.Aggregate(17, (h, v) => h * 31 + v.GetHashCode());
    }
}
