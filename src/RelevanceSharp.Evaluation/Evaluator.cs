using System.Diagnostics;
using RelevanceSharp.Attribution;
using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>Settings of a comparison of attribution configurations (<see cref="Evaluator"/>).</summary>
public sealed record EvaluationOptions
{
    /// <summary>Region perturbation settings.</summary>
    public PerturbationSettings Perturbation { get; init; } = new();

    /// <summary>Randomization check settings, or <c>null</c> to skip the check.</summary>
    public RandomizationSettings? Randomization { get; init; } = new();

    /// <summary>At most this many images are attributed in one call.</summary>
    public int AttributionBatchSize { get; init; } = 16;

    /// <summary>The class each image is explained and scored for; <c>null</c> for the model's predicted class.</summary>
    public IReadOnlyList<long>? Targets { get; init; }
}

/// <summary>A configuration whose attribution was not finite.</summary>
/// <param name="Config">The configuration's name.</param>
/// <param name="Image">The first image whose attribution failed when repeated alone, or <c>null</c> if none did.</param>
/// <param name="Reason">What went wrong.</param>
public sealed record EvaluationFailure(string Config, string? Image, string Reason)
{
    /// <inheritdoc />
    public override string ToString() => $"configuration {Config}{(Image is null ? "" : $", image {Image}")}: {Reason}";
}

/// <summary>The evaluation of one configuration.</summary>
/// <param name="Config">The configuration.</param>
/// <param name="Perturbation">Its region perturbation curves and the random-order control.</param>
/// <param name="Randomization">The randomization check, or <c>null</c> if it was skipped.</param>
/// <param name="Elapsed">Time spent on this configuration.</param>
public sealed record ConfigurationResult(EvaluationConfig Config, PerturbationResult Perturbation, RandomizationResult? Randomization, TimeSpan Elapsed);

/// <summary>
/// Compares attribution configurations on one model and one set of images: each configuration's attributions
/// go through region perturbation (against one shared random-order control) and, unless disabled, the cascading
/// parameter randomization check.
/// </summary>
public static class Evaluator
{
    // The CPU guard must be in force before this type runs its first convolution.
    static Evaluator() => CpuGuard.Ensure();

    /// <summary>Evaluates every configuration.</summary>
    /// <param name="model">The classifier, in evaluation mode; its output is (N, classes).</param>
    /// <param name="inputs">The images <c>(N, C, H, W)</c>, as the model takes them.</param>
    /// <param name="configs">The configurations to compare.</param>
    /// <param name="bounds">The model's input range, for composites that need it (<c>epsilon_gamma_box</c>).</param>
    /// <param name="options">Settings; the defaults without.</param>
    /// <param name="progress">Receives progress of each stage.</param>
    /// <param name="imageNames">Names of the images for the report (their indices without).</param>
    public static EvaluationReport Run(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<EvaluationConfig> configs,
        InputBounds? bounds = null, EvaluationOptions? options = null, IProgress<EvaluationProgress>? progress = null,
        IReadOnlyList<string>? imageNames = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(configs);
        options ??= new EvaluationOptions();
        if (configs.Count == 0)
        {
            throw new ArgumentException("There is no configuration to evaluate.", nameof(configs));
        }
        if (options.AttributionBatchSize < 1)
        {
            throw new ArgumentException($"The attribution batch size must be at least 1; got {options.AttributionBatchSize}.");
        }
        int images = (int)inputs.shape[0];
        if (imageNames is not null && imageNames.Count != images)
        {
            throw new ArgumentException($"{imageNames.Count} image names were given for {images} images.", nameof(imageNames));
        }
        var perturbation = new RegionPerturbation(options.Perturbation);
        PatchGrid grid = perturbation.Grid(inputs);
        // Create every attributor first, so that a bad configuration fails before the long work starts.
        var attributors = configs.Select(config => config.CreateAttributor(model, bounds)).ToList();
        IReadOnlyList<long> targets = options.Targets ?? Predict(model, inputs, options.AttributionBatchSize);
        if (targets.Count != images)
        {
            throw new ArgumentException($"{targets.Count} targets were given for {images} images.");
        }

        PerturbationCurves random = perturbation.RandomOrder(model, inputs, targets, progress, "random order");
        var results = new List<ConfigurationResult>();
        var failures = new List<EvaluationFailure>();
        string[] names = imageNames?.ToArray() ?? Enumerable.Range(0, images).Select(i => $"image {i}").ToArray();
        for (int c = 0; c < configs.Count; c++)
        {
            var clock = Stopwatch.StartNew();
            EvaluationConfig config = configs[c];
            Attributor attributor = attributors[c];
            string stage = $"{config.Name} ({c + 1}/{configs.Count})";
            PerturbationCurves morf;
            try
            {
                using (Tensor relevance = Attribute(attributor, inputs, targets, options.AttributionBatchSize, shareRegistration: true))
                {
                    morf = perturbation.MostRelevantFirst(model, inputs, targets, relevance, progress, $"{stage}: perturbation");
                }
            }
            catch (NonFiniteAttributionException ex)
            {
                // The other configurations go on; the caller reports this one.
                failures.Add(FailingImage(config.Name, attributor, inputs, targets, names) ?? new EvaluationFailure(config.Name, null, ex.Message));
                continue;
            }
            RandomizationResult? randomization = options.Randomization is null
                ? null
                : ParameterRandomization.Run(model, x => Attribute(attributor, x, targets, options.AttributionBatchSize, shareRegistration: false),
                    inputs, options.Randomization, progress, $"{stage}: randomization");
            results.Add(new ConfigurationResult(config, new PerturbationResult(morf, random), randomization, clock.Elapsed));
        }
        if (results.Count == 0)
        {
            throw new InvalidOperationException($"Every configuration failed; the first: {failures[0]}");
        }
        return new EvaluationReport(results, random, grid, options, names, targets) { Failures = failures };
    }

    // The first image whose attribution is not finite when computed alone, with the attributor's account of it.
    private static EvaluationFailure? FailingImage(string config, Attributor attributor, Tensor inputs, IReadOnlyList<long> targets,
        IReadOnlyList<string> names)
    {
        for (int i = 0; i < inputs.shape[0]; i++)
        {
            try
            {
                using Tensor image = inputs.narrow(0, i, 1);
                using AttributionResult result = attributor.Attribute(image, AttributionTarget.Class(targets[i]));
            }
            catch (NonFiniteAttributionException ex)
            {
                return new EvaluationFailure(config, names[i], ex.Message.TrimEnd('.'));
            }
        }
        return null;
    }

    /// <summary>Each image's highest-scoring class.</summary>
    public static IReadOnlyList<long> Predict(nn.Module<Tensor, Tensor> model, Tensor inputs, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        var result = new List<long>();
        using var noGrad = no_grad();
        for (long start = 0; start < inputs.shape[0]; start += batchSize)
        {
            using var scope = NewDisposeScope();
            Tensor output = model.call(inputs.narrow(0, start, Math.Min(batchSize, inputs.shape[0] - start)));
            result.AddRange(output.argmax(1).cpu().data<long>().ToArray());
        }
        return result;
    }

    /// <summary>
    /// The attributions of all inputs for their target classes, computed in batches. With
    /// <paramref name="shareRegistration"/> the composite is registered once for all batches.
    /// </summary>
    public static Tensor Attribute(Attributor attributor, Tensor inputs, IReadOnlyList<long> targets, int batchSize, bool shareRegistration = true)
    {
        ArgumentNullException.ThrowIfNull(attributor);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        using IDisposable? registration = shareRegistration ? attributor.Scope() : null;
        var parts = new List<Tensor>();
        try
        {
            for (int start = 0; start < inputs.shape[0]; start += batchSize)
            {
                int count = (int)Math.Min(batchSize, inputs.shape[0] - start);
                using Tensor batch = inputs.narrow(0, start, count);
                using AttributionResult result = attributor.Attribute(batch, AttributionTarget.Classes(targets.Skip(start).Take(count).ToArray()));
                parts.Add(result.Relevance.detach().clone());
            }
            return parts.Count == 1 ? parts[0].alias() : cat(parts, 0);
        }
        finally
        {
            parts.ForEach(p => p.Dispose());
        }
    }
}
