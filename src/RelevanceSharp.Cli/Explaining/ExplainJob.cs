using System.Diagnostics;
using RelevanceSharp.Attribution;
using RelevanceSharp.Core;
using RelevanceSharp.IO;
using RelevanceSharp.Imaging;
using RelevanceSharp.Platform;
using RelevanceSharp.Vision.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Cli.Explaining;

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

    private readonly ExplainOptions options;
    private readonly Attributor attributor;
    private readonly IReadOnlyList<PlannedImage> planned;
    private readonly IReadOnlyList<(int Start, int Count)> batches;
    private readonly ExplainWriter writer;
    private readonly ManifestHeader? header;

    private ExplainJob(ExplainOptions options, ExplainPlan plan)
    {
        this.options = options;
        planned = plan.Images;
        batches = plan.Batches;
        header = plan.Header;
        Model = plan.Model;
        Classes = plan.Classes;
        LayerShapes = plan.LayerShapes;
        InputShape = plan.InputShape;
        attributor = plan.Attributor;
        writer = new ExplainWriter(options, Model.Description, Description, plan.Header?.Spec ?? options.Spec.Canonical(ExplainPlanner.Context(options)));
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

    /// <summary>The shape of each layer's result for one image (<see cref="ExplainOptions.Layers"/>), without the batch dimension.</summary>
    public IReadOnlyDictionary<string, long[]> LayerShapes { get; }

    /// <summary>The shape of the first image as the model takes it, without the batch dimension; empty when nothing is explained.</summary>
    public long[] InputShape { get; }

    /// <summary>The attributor, built from the spec.</summary>
    public Attributor Attributor => attributor;

    /// <summary>The number of batches <see cref="Run"/> processes.</summary>
    public int BatchCount => batches.Count;

    /// <summary>What is computed, in one line (method, composite, canonizers, target).</summary>
    public string Description => ExplainPlanner.Describe(options, Model);

    /// <summary>
    /// Checks the options, finds the images, loads the model and checks that everything fits, without writing
    /// anything. The model from <paramref name="loadModel"/> is owned by the job (and disposed if preparing fails).
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid or does not fit the model or the images.</exception>
    /// <exception cref="FileNotFoundException">An input or the weights file does not exist.</exception>
    /// <exception cref="InvalidDataException">An image cannot be decoded, or the weights do not fit.</exception>
    public static ExplainJob Prepare(ExplainOptions options, Func<ExplainModel> loadModel) =>
        new(options, ExplainPlanner.Prepare(options, loadModel));

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
        using IDisposable? registration = attributor is Gradient ? attributor.Scope() : null;
        foreach (var (start, count) in batches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            long batchStart = Stopwatch.GetTimestamp();
            var images01 = new List<Tensor>(count);
            for (int i = start; i < start + count; i++)
            {
                images01.Add(ImageTransforms.Prepare(ImageIO.Load(planned[i].Input, options.Transform.Grayscale, options.Transform.MaxPixels), options.Transform));
            }
            Tensor input = ImageTransforms.Normalize(stack(images01), options.Transform.Mean, options.Transform.Std);
            var (output, relevance, layers, report) = Attribute(input);
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
                var atLayers = layers.ToDictionary(l => l.Key, l => l.Value[k]);
                writer.Write(image, images01[k], relevance[k], target, atLayers, report?.Format(k));
                var top = options.TopChannels > 0
                    ? (IReadOnlyDictionary<string, IReadOnlyList<ChannelRelevance>>)atLayers.ToDictionary(l => l.Key, l => ExplainLayers.TopChannels(l.Value, options.TopChannels))
                    : null;
                images++;
                files += image.Outputs.Count;
                var explained = new ExplainedImage(image.Input, predicted[k], Model.ClassName(predicted[k]), probability,
                    target, Model.ClassName(target), image.Outputs.Select(o => o.Path).ToList())
                {
                    Seconds = share + Stopwatch.GetElapsedTime(imageStart).TotalSeconds,
                    TopChannels = top,
                };
                manifest?.Add(new ManifestEntry
                {
                    TopChannels = top,
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

    private (Tensor Output, Tensor Relevance, IReadOnlyDictionary<string, Tensor> Layers, ConservationReport? Report) Attribute(Tensor input)
    {
        if (attributor is Gradient)
        {
            AttributionTarget target = options.TargetClass is long t ? AttributionTarget.Class(t) : AttributionTarget.Predicted;
            if (options.Conservation)
            {
                // The planner refuses --conservation with --layer: the report has a pass of its own.
                var (reported, report) = ConservationReport.Attribute(attributor, input, target);
                return (reported.Output, reported.Relevance, reported.Layers, report);
            }
            AttributionResult result = attributor.Attribute(input, target, options.Layers);
            return (result.Output, result.Relevance, result.Layers, null);
        }
        long[] classes;
        using (no_grad())
        {
            Tensor output = Model.Module.call(input);
            classes = options.TargetClass is long t
                ? Enumerable.Repeat(t, (int)input.shape[0]).ToArray()
                : output.argmax(1).data<long>().ToArray();
        }
        AttributionResult attributed = attributor.Attribute(input, TargetFor(classes), options.Layers);
        return (attributed.Output, attributed.Relevance, attributed.Layers, null);
    }

    /// <summary>
    /// For a method that gives one value per patch (attention rollout on a vision transformer), how its grid maps onto
    /// the input, which its heatmaps show upsampled; <c>null</c> for methods that give one value per pixel.
    /// </summary>
    public PatchGridShape? PatchGrid => attributor is AttentionRollout && Model.Module is Vision.Models.VisionTransformer vit
        ? new PatchGridShape(vit.Options.GridSize, vit.Options.GridSize, vit.Options.PatchSize, vit.Options.PatchSize)
        : null;

    // Each sample's class, as the method explains it (occlusion scores the class output, the gradient methods seed
    // its one-hot vector).
    private AttributionTarget TargetFor(long[] classes) => attributor.ClassTarget(classes);
}
