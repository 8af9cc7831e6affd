using System.Diagnostics;
using RelevanceSharp.Attribution;
using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>Settings of a comparison of attribution configurations (<see cref="Evaluator"/>).</summary>
public sealed record EvaluationOptions
{
    /// <summary>Region perturbation settings (with <see cref="Baselines"/>, all but the baseline).</summary>
    public PerturbationSettings Perturbation { get; init; } = new();

    /// <summary>
    /// The baselines to perturb with, each a full region perturbation of the same attributions; empty (the default)
    /// for the baseline of <see cref="Perturbation"/> alone.
    /// </summary>
    public IReadOnlyList<PerturbationBaseline> Baselines { get; init; } = [];

    /// <summary>The baselines an evaluation runs: <see cref="Baselines"/>, or the one of <see cref="Perturbation"/>.</summary>
    public IReadOnlyList<PerturbationBaseline> BaselinesToRun => Baselines.Count > 0 ? Baselines : [Perturbation.Baseline];

    /// <summary>Randomization check settings, or <c>null</c> to skip the check.</summary>
    public RandomizationSettings? Randomization { get; init; } = new();

    /// <summary>At most this many images are attributed in one call.</summary>
    public int AttributionBatchSize { get; init; } = 16;

    /// <summary>The class each image is explained and scored for; <c>null</c> for the model's predicted class.</summary>
    public IReadOnlyList<long>? Targets { get; init; }

    /// <summary>Infidelity settings (<see cref="Evaluation.Infidelity"/>), or <c>null</c> to skip it.</summary>
    public InfidelitySettings? Infidelity { get; init; } = new();

    /// <summary>
    /// Max-sensitivity settings (<see cref="SensitivityMax"/>), or <c>null</c> to skip it. It attributes every image
    /// <see cref="SensitivitySettings.Samples"/> more times.
    /// </summary>
    public SensitivitySettings? Sensitivity { get; init; } = new();
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
/// <param name="PerBaseline">Its region perturbation under each baseline, in the order of <see cref="EvaluationOptions.BaselinesToRun"/>.</param>
/// <param name="Randomization">The randomization check, or <c>null</c> if it was skipped.</param>
/// <param name="Elapsed">
/// Time spent on this configuration's attributions, the measures without baseline and the randomization check (the
/// perturbation is shared).
/// </param>
public sealed record ConfigurationResult(AttributionSpec Config, IReadOnlyList<PerturbationResult> PerBaseline, RandomizationResult? Randomization,
    TimeSpan Elapsed)
{
    /// <summary>The region perturbation under the first baseline.</summary>
    public PerturbationResult Perturbation => PerBaseline[0];

    /// <summary>The measures without baseline (sparseness, complexity, and infidelity and max-sensitivity when they ran), or <c>null</c>.</summary>
    public AttributionMetrics? Metrics { get; init; }

    /// <summary>
    /// The per-image values of <paramref name="measure"/>: under baseline number <paramref name="baseline"/> for the measures
    /// of region perturbation, or (the baseline ignored) of <see cref="Metrics"/>; <c>null</c> when the measure did not run.
    /// </summary>
    public IReadOnlyList<double>? Scores(FaithfulnessMeasure measure, int baseline = 0) =>
        measure.UsesBaseline() ? PerBaseline[baseline].Scores(measure) : Metrics?.Scores(measure);
}

/// <summary>
/// Compares attribution configurations on one model and one set of images: each configuration's attributions
/// go through region perturbation (most and least relevant first, under each baseline, against one shared
/// random-order control), the measures without baseline (sparseness, complexity and, unless disabled, infidelity and
/// max-sensitivity) and, unless disabled, the cascading parameter randomization check.
/// </summary>
/// <remarks>
/// Every configuration is attributed first. Then, per baseline, the orders of all configurations and the control
/// go through the model together (<see cref="RegionPerturbation.OrderCurves"/>), so batches are full and the
/// unperturbed and fully perturbed images are scored once per image, not once per configuration and order.
/// </remarks>
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
    public static EvaluationReport Run(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<AttributionSpec> configs,
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
        var perturbations = options.BaselinesToRun.Select(b => new RegionPerturbation(options.Perturbation with { Baseline = b })).ToList();
        PatchGrid grid = perturbations[0].Grid(inputs);
        // Create every attributor first, so that a bad configuration fails before the long work starts.
        var attributors = configs.Select(config => config.CreateAttributor(model, AttributionContext.ForInputs(bounds))).ToList();
        IReadOnlyList<long> targets = options.Targets ?? Predict(model, inputs, options.AttributionBatchSize);
        if (targets.Count != images)
        {
            throw new ArgumentException($"{targets.Count} targets were given for {images} images.");
        }

        options.Infidelity?.Validate();
        options.Sensitivity?.Validate();
        var attributed = new List<(AttributionSpec Config, double[][] Patches, AttributionMetrics Metrics, RandomizationResult? Randomization, TimeSpan Elapsed)>();
        var failures = new List<EvaluationFailure>();
        string[] names = imageNames?.ToArray() ?? Enumerable.Range(0, images).Select(i => $"image {i}").ToArray();
        for (int c = 0; c < configs.Count; c++)
        {
            var clock = Stopwatch.StartNew();
            AttributionSpec config = configs[c];
            Attributor attributor = attributors[c];
            string stage = $"{config.Name} ({c + 1}/{configs.Count})";
            var patches = new double[images][];
            double[] sparseness = new double[images], complexity = new double[images];
            double[]? infidelity = options.Infidelity is null ? null : new double[images];
            double[]? sensitivity = options.Sensitivity is null ? null : new double[images];
            string work = "attribution" + (options.Infidelity is null && options.Sensitivity is null ? "" : " and metrics");
            try
            {
                ForEachBatch(attributor, inputs, targets, options.AttributionBatchSize, shareRegistration: true, (start, relevance) =>
                {
                    int count = (int)relevance.shape[0];
                    using Tensor slice = inputs.narrow(0, start, count);
                    perturbations[0].PatchRelevance(slice, relevance).CopyTo(patches, start);
                    Sparseness.Compute(relevance).CopyTo(sparseness, start);
                    Complexity.Compute(relevance).CopyTo(complexity, start);
                    IReadOnlyList<long> batchTargets = targets.Skip(start).Take(count).ToArray();
                    if (infidelity is not null)
                    {
                        Infidelity.Compute(model, slice, relevance, batchTargets, options.Infidelity, start).CopyTo(infidelity, start);
                    }
                    if (sensitivity is not null)
                    {
                        SensitivityMax.Compute(SensitivityMax.Of(attributor), slice, relevance, batchTargets, options.Sensitivity, start).CopyTo(sensitivity, start);
                    }
                    progress?.Report(new EvaluationProgress($"{stage}: {work}", start + count, images));
                });
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
            var metrics = new AttributionMetrics(sparseness, complexity) { Infidelity = infidelity, Sensitivity = sensitivity };
            attributed.Add((config, patches, metrics, randomization, clock.Elapsed));
        }
        if (attributed.Count == 0)
        {
            throw new InvalidOperationException($"Every configuration failed; the first: {failures[0]}");
        }

        // Per baseline, one pass over the orders of all configurations (MoRF and LeRF) and the control, per image.
        var perBaseline = new IReadOnlyList<PerturbationResult>[perturbations.Count];
        for (int b = 0; b < perturbations.Count; b++)
        {
            RegionPerturbation perturbation = perturbations[b];
            perBaseline[b] = perturbation.EvaluateAll(model, inputs, targets, attributed.Select(a => a.Patches).ToList(), progress,
                $"perturbation, baseline {perturbation.Settings.Baseline.Name} ({b + 1}/{perturbations.Count})");
        }
        var results = attributed
            .Select((a, c) => new ConfigurationResult(a.Config, perBaseline.Select(results => results[c]).ToArray(),
                a.Randomization, a.Elapsed)
            { Metrics = a.Metrics })
            .ToList();
        return new EvaluationReport(results, grid, options, names, targets) { Failures = failures };
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
                using AttributionResult result = attributor.Attribute(image, attributor.ClassTarget([targets[i]]));
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
        var parts = new List<Tensor>();
        try
        {
            ForEachBatch(attributor, inputs, targets, batchSize, shareRegistration, (_, relevance) => parts.Add(relevance.detach().clone()));
            return parts.Count == 1 ? parts[0].alias() : cat(parts, 0);
        }
        finally
        {
            parts.ForEach(p => p.Dispose());
        }
    }

    // Attributes the inputs batch by batch and hands each batch's relevance (valid during the call) to `consume` with
    // the index of the batch's first image.
    private static void ForEachBatch(Attributor attributor, Tensor inputs, IReadOnlyList<long> targets, int batchSize, bool shareRegistration,
        Action<int, Tensor> consume)
    {
        ArgumentNullException.ThrowIfNull(attributor);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        using IDisposable? registration = shareRegistration ? attributor.Scope() : null;
        for (int start = 0; start < inputs.shape[0]; start += batchSize)
        {
            int count = (int)Math.Min(batchSize, inputs.shape[0] - start);
            using Tensor batch = inputs.narrow(0, start, count);
            using AttributionResult result = attributor.Attribute(batch, attributor.ClassTarget(targets.Skip(start).Take(count).ToArray()));
            consume(start, result.Relevance);
        }
    }
}
