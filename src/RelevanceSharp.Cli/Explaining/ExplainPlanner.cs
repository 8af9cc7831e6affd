using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>The kinds of file an image's explanation writes.</summary>
internal enum OutputKind
{
    Heatmap,
    Overlay,
    Npy,
    SafeTensors,
    Conservation,

    /// <summary>The prepared image as the model saw it (for a report).</summary>
    Input,

    /// <summary>A layer's result summed over channels, at the layer's resolution.</summary>
    LayerHeatmap,

    /// <summary>A layer's result as <c>.npy</c>, shaped (C, h, w).</summary>
    LayerNpy,

    /// <summary>A layer's result as <c>.safetensors</c>.</summary>
    LayerSafeTensors,
}

/// <summary>One file of an image's explanation: where it goes, what it holds and, for a layer's files, which layer.</summary>
internal readonly record struct PlannedOutput(string Path, OutputKind Kind, string? Layer = null)
{
    /// <summary>The path and kind alone.</summary>
    public void Deconstruct(out string path, out OutputKind kind) => (path, kind) = (Path, Kind);
}

/// <summary>An image of the list with the files its explanation writes, heatmap first.</summary>
internal sealed record PlannedImage(string Input, IReadOnlyList<PlannedOutput> Outputs);

/// <summary>What <see cref="ExplainPlanner.Prepare"/> settled: the model, its attributor, the images in batches.</summary>
/// <param name="Model">The loaded model.</param>
/// <param name="Attributor">The spec's attributor of the model.</param>
/// <param name="Images">The images to explain, in order.</param>
/// <param name="Batches">Consecutive images of one shape, as (start, count).</param>
/// <param name="Classes">The model's number of outputs (0 when there is nothing to explain).</param>
/// <param name="Header">The manifest header of the part, or <c>null</c> without a part.</param>
internal sealed record ExplainPlan(ExplainModel Model, Attributor Attributor, IReadOnlyList<PlannedImage> Images,
    IReadOnlyList<(int Start, int Count)> Batches, long Classes, ManifestHeader? Header)
{
    /// <summary>The shape of each layer's result for one image (<see cref="ExplainOptions.Layers"/>), from the probe.</summary>
    public IReadOnlyDictionary<string, long[]> LayerShapes { get; init; } = new Dictionary<string, long[]>();

    /// <summary>The shape of the first image as the model takes it, without the batch dimension; empty without images.</summary>
    public long[] InputShape { get; init; } = [];
}

/// <summary>
/// Plans an <see cref="ExplainJob"/> before anything is written: checks the options, finds and orders the images,
/// names their outputs and refuses clashes, leaves out what a resumed part already has, decodes every image once and
/// probes the model with each input shape and one attribution.
/// </summary>
internal static class ExplainPlanner
{
    /// <summary>
    /// Checks the options, finds the images, loads the model and checks that everything fits, without writing
    /// anything. The model from <paramref name="loadModel"/> is owned by the job (and disposed if preparing fails).
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid or does not fit the model or the images.</exception>
    /// <exception cref="FileNotFoundException">An input or the weights file does not exist.</exception>
    /// <exception cref="InvalidDataException">An image cannot be decoded, or the weights do not fit.</exception>
    public static ExplainPlan Prepare(ExplainOptions options, Func<ExplainModel> loadModel)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loadModel);
        CheckNumbers(options);
        options.Transform.Validate();
        ColorMap.Get(options.ColorMap);
        AttributionContext context = Context(options);
        // Every argument at its value, those the transform supplies included: what the manifest records.
        string spec = options.Spec.Canonical(context);
        IReadOnlyList<PlannedImage> listed = Plan(options);
        IReadOnlyList<PlannedImage> assigned = options.Shard?.Select(listed) ?? listed;

        ExplainModel model = loadModel();
        try
        {
            ExplainLayers.CheckLayers(options, model.Module);
            Attributor attributor = options.Spec.CreateAttributor(model.Module, context);
            ManifestHeader? header = options.Shard is { } shard
                ? new ManifestHeader
                {
                    Shard = shard.Index,
                    Shards = shard.Count,
                    Images = listed.Count,
                    Assigned = assigned.Count,
                    List = ExplainManifest.ListDigest(listed.Select(p => Path.GetFileName(p.Input))),
                    Model = model.Description,
                    Method = Describe(options, model),
                    Spec = spec,
                }
                : null;
            IReadOnlyList<PlannedImage> planned = options.Resume ? Unfinished(assigned, Path.Combine(options.OutputFolder, options.Shard!.ManifestName), header!) : assigned;
            if (planned.Count == 0)
            {
                return new ExplainPlan(model, attributor, planned, [], 0, header);
            }
            var (shapes, first) = DecodeAll(planned, options.Transform);
            using (first)
            {
                long classes = Probe(options, model, attributor, first, shapes.Distinct(ShapeComparer.Instance));
                if (options.TargetClass is long target && (target < 0 || target >= classes))
                {
                    throw new ArgumentException(
                        $"Target class {target} is out of range: {model.Description} has {classes} classes (0 to {classes - 1}).");
                }
                return new ExplainPlan(model, attributor, planned, Batches(shapes, options.BatchSize), classes, header)
                {
                    LayerShapes = ProbeLayers(options, attributor, first),
                    InputShape = first.shape.Skip(1).ToArray(),
                };
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>What is computed, in one line (method, composite, canonizers, target).</summary>
    internal static string Describe(ExplainOptions options, ExplainModel model)
    {
        string target = options.TargetClass is long t ? $"class {model.ClassName(t)}" : "the predicted class";
        return $"{options.Spec.Describe()}; explaining {target}";
    }

    /// <summary>
    /// What the spec's factory needs to know about the inputs: their range, from the transform's normalization,
    /// for the <c>low</c> and <c>high</c> of ZBox.
    /// </summary>
    internal static AttributionContext Context(ExplainOptions options) =>
        AttributionContext.ForInputs(InputBounds.FromNormalization(options.Transform.Mean, options.Transform.Std));

    private static void CheckNumbers(ExplainOptions options)
    {
        if (options.BatchSize < 1)
        {
            throw new ArgumentException($"The batch size must be at least 1; got {options.BatchSize}.");
        }
        if (options.TargetClass is < 0)
        {
            throw new ArgumentException($"Target class {options.TargetClass} is out of range: classes are numbered from 0.");
        }
        if (options.Conservation && options.Spec.MethodEntry != Gradient.Entry)
        {
            throw new ArgumentException(
                $"--conservation follows the relevance of one backward pass, that of the gradient method (LRP with a composite); not {options.Spec.MethodEntry.Name}.");
        }
        if (options.Resume && options.Shard is null)
        {
            throw new ArgumentException("Resuming needs a shard to explain (0/1 for all images), whose manifest tells what is done.");
        }
        ExplainLayers.Check(options);
    }

    /// <summary>
    /// The images of <paramref name="assigned"/> that a resumed run still has to explain: all but those whose last line
    /// in the manifest at <paramref name="path"/> has no error and whose files (as this run would name them) all exist.
    /// A manifest of another run (another split, image list, model, spec or method) is refused; a missing one, or one cut
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
            var outputs = new List<PlannedOutput> { new(stem + extension, OutputKind.Heatmap) };
            if (options.Overlay)
            {
                outputs.Add(new(stem + ".overlay" + extension, OutputKind.Overlay));
            }
            if (options.RelevanceFormat == RelevanceFormat.Npy)
            {
                outputs.Add(new(stem + ".npy", OutputKind.Npy));
            }
            else if (options.RelevanceFormat == RelevanceFormat.SafeTensors)
            {
                outputs.Add(new(stem + ".safetensors", OutputKind.SafeTensors));
            }
            if (options.Conservation)
            {
                outputs.Add(new(stem + ".conservation.txt", OutputKind.Conservation));
            }
            outputs.AddRange(ExplainLayers.Outputs(options, stem, extension));
            var paths = outputs.Select(o => o with { Path = Path.Combine(options.OutputFolder, o.Path) }).ToList();
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
                    prepared = ImageTransforms.Prepare(decoded, transform);
                }
                catch (ArgumentException ex)
                {
                    throw new ArgumentException($"Cannot prepare image '{image.Input}': {Plain(ex)}", ex);
                }
                shapes.Add(prepared.shape);
                first ??= ImageTransforms.Normalize(prepared, transform.Mean, transform.Std).unsqueeze(0).MoveToOuterDisposeScope();
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
    /// Runs the model once per distinct input shape, and the attribution once on the first image (LRP and attention
    /// rollout; not occlusion, which would take many passes), so that a model that refuses the inputs or a composite
    /// or method that does not fit it fails now. Returns the number of classes.
    /// </summary>
    private static long Probe(ExplainOptions options, ExplainModel model, Attributor attributor, Tensor first, IEnumerable<long[]> shapes)
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
        if (options.Spec.MethodEntry.TakesComposite)
        {
            // Whether the values are finite is settled per image when the job runs, where a failure names its image.
            using AttributionResult result = new Gradient(model.Module, attributor.Composite) { RequireFinite = false }.Attribute(first, AttributionTarget.Predicted);
        }
        else if (attributor is AttentionRollout rollout)
        {
            // One forward pass: a model without attention, or patches that do not tile the image, fail now.
            rollout.AttributePatches(first);
        }
        return classes;
    }

    /// <summary>
    /// The shape of each layer's result for one image, from one attribution of the first image (which also checks that
    /// the names, the method and the layers' outputs fit); empty without layers.
    /// </summary>
    private static IReadOnlyDictionary<string, long[]> ProbeLayers(ExplainOptions options, Attributor attributor, Tensor first)
    {
        if (options.Layers.Count == 0)
        {
            return new Dictionary<string, long[]>();
        }
        using var scope = NewDisposeScope();
        using AttributionResult result = ExplainLayers.Attribute(attributor, first, options.Layers);
        return ExplainLayers.Shapes(result, options.Layers);
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

    /// <summary>The message of an argument exception without the parameter name .NET appends.</summary>
    private static string Plain(ArgumentException ex) =>
        ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal);

    private sealed class ShapeComparer : IEqualityComparer<long[]>
    {
        public static ShapeComparer Instance { get; } = new();

        public bool Equals(long[]? x, long[]? y) => x is not null && y is not null && x.SequenceEqual(y);

        public int GetHashCode(long[] obj) => obj.Aggregate(17, (h, v) => h * 31 + v.GetHashCode());
    }
}
