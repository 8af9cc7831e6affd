using RelevanceSharp.Attribution;
using RelevanceSharp.Core;
using RelevanceSharp.Platform;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>Settings of the model parameter randomization check (<see cref="ParameterRandomization"/>).</summary>
public sealed record RandomizationSettings
{
    /// <summary>Seed of the random weights. Layer <c>j</c> (counted from the output) always gets the same weights for a seed.</summary>
    public long Seed { get; init; }

    /// <summary>Compare absolute relevance instead of signed relevance.</summary>
    public bool Absolute { get; init; }

    /// <summary>Randomize at most this many layers (from the output); <c>null</c> for all.</summary>
    public int? MaxLayers { get; init; }
}

/// <summary>One step of the randomization cascade: the similarity after randomizing every layer up to this one.</summary>
/// <param name="Step">1 for the output layer, 2 for the output layer and the one before it, and so on.</param>
/// <param name="Layer">The module name of the layer randomized in this step.</param>
/// <param name="Correlation">Spearman rank correlation of original and randomized relevance, per image (NaN where a map is constant).</param>
/// <param name="Summary">Mean and standard error of <paramref name="Correlation"/> over the images (NaN values left out).</param>
public sealed record RandomizationStep(int Step, string Layer, IReadOnlyList<double> Correlation, MeanWithError Summary);

/// <summary>The outcome of the randomization check.</summary>
/// <param name="Steps">The cascade, from the output layer toward the input.</param>
public sealed record RandomizationResult(IReadOnlyList<RandomizationStep> Steps)
{
    /// <summary>The mean similarity after the last step (all randomized layers random); NaN without steps.</summary>
    public double Final => Steps.Count == 0 ? double.NaN : Steps[^1].Summary.Mean;

    /// <summary>The mean similarity over all steps of the cascade (NaN steps left out).</summary>
    public double MeanOverSteps => MeanWithError.Of(Steps.Select(s => s.Summary.Mean)).Mean;
}

/// <summary>
/// Model parameter randomization check (cascading, Adebayo et al. 2018). An attribution that explains the model
/// must change when the model's weights are replaced by random ones; one that stays the same shows the input, not
/// the model.
/// </summary>
/// <remarks>
/// <para>
/// The parameterized layers are the linear layers and convolutions, in the order in which the model lists its
/// modules (depth first, registration order, as PyTorch lists them); the cascade runs through them in reverse,
/// from the output toward the input. At step <c>j</c> the <c>j</c>-th layer from the output is re-initialized as
/// PyTorch initializes a fresh layer (weight and bias uniform in <c>±1/sqrt(fan_in)</c>) from a generator seeded
/// by <see cref="RandomizationSettings.Seed"/> and <c>j</c>, all layers randomized before stay random, and the
/// attribution of the same inputs for the same target classes is computed again. Batch norms keep their parameters
/// and statistics.
/// </para>
/// <para>
/// Similarity is Spearman's rank correlation between the original and the randomized relevance map of each image,
/// each map summed over channels (and made absolute if <see cref="RandomizationSettings.Absolute"/>). The model's
/// parameters and buffers are copied before the first step and copied back, bit for bit, afterwards, also when a
/// step fails. Attributors must register their composites per call (not inside an open <c>Scope()</c>), so that
/// canonizers see the randomized weights.
/// </para>
/// </remarks>
public static class ParameterRandomization
{
    // The CPU guard must be in force before this type runs its first convolution.
    static ParameterRandomization() => CpuGuard.Ensure();

    /// <summary>The layers the cascade randomizes, in its order: linear layers and convolutions from the output back.</summary>
    public static IReadOnlyList<(string Name, nn.Module Module)> Layers(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.NamedModulesWithRoot()
            .Where(entry => entry.Module is Linear or Convolution)
            .Reverse()
            .ToList();
    }

    /// <summary>Runs the cascade for an attributor, explaining each image's class in <paramref name="targets"/>.</summary>
    public static RandomizationResult Run(Attributor attributor, Tensor inputs, IReadOnlyList<long> targets,
        RandomizationSettings? settings = null, IProgress<EvaluationProgress>? progress = null, string stage = "randomization")
    {
        ArgumentNullException.ThrowIfNull(attributor);
        ArgumentNullException.ThrowIfNull(targets);
        AttributionTarget target = attributor.ClassTarget(targets);
        return Run(attributor.Model, x =>
        {
            using AttributionResult result = attributor.Attribute(x, target);
            return result.Relevance.detach().clone();
        }, inputs, settings, progress, stage);
    }

    /// <summary>
    /// Runs the cascade for any attribution function (input batch to relevance shaped like it, computed with
    /// <paramref name="model"/> as it is at the time of the call).
    /// </summary>
    public static RandomizationResult Run(nn.Module model, Func<Tensor, Tensor> attribute, Tensor inputs,
        RandomizationSettings? settings = null, IProgress<EvaluationProgress>? progress = null, string stage = "randomization")
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(attribute);
        ArgumentNullException.ThrowIfNull(inputs);
        settings ??= new RandomizationSettings();
        var layers = Layers(model);
        if (settings.MaxLayers is int max)
        {
            if (max < 0)
            {
                throw new ArgumentException($"The number of layers to randomize must not be negative; got {max}.");
            }
            layers = layers.Take(max).ToList();
        }

        var saved = model.NamedTensors().Select(entry => (entry.Tensor, Copy: entry.Tensor.detach().clone())).ToList();
        var steps = new List<RandomizationStep>();
        try
        {
            double[][] original = Maps(attribute, inputs, settings.Absolute);
            progress?.Report(new EvaluationProgress(stage, 0, layers.Count));
            for (int j = 0; j < layers.Count; j++)
            {
                var (name, layer) = layers[j];
                Randomize(layer, Seeds.Derive(settings.Seed, j));
                double[][] randomized = Maps(attribute, inputs, settings.Absolute);
                double[] correlation = original.Zip(randomized, RankCorrelation.Spearman).ToArray();
                steps.Add(new RandomizationStep(j + 1, name, correlation, MeanWithError.Of(correlation)));
                progress?.Report(new EvaluationProgress(stage, j + 1, layers.Count));
            }
        }
        finally
        {
            using (no_grad())
            {
                foreach (var (tensor, copy) in saved)
                {
                    tensor.copy_(copy);
                    copy.Dispose();
                }
            }
        }
        return new RandomizationResult(steps);
    }

    /// <summary>Re-initializes a linear layer or convolution as a fresh one: uniform in ±1/sqrt(fan_in).</summary>
    private static void Randomize(nn.Module layer, ulong seed)
    {
        var (weight, bias) = layer switch
        {
            Linear linear => (linear.weight, linear.bias),
            Convolution conv => (conv.weight, conv.bias),
            _ => throw new ArgumentException($"Cannot randomize {layer.Describe()}."),
        };
        if (weight is null)
        {
            return;
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new Generator(seed, weight.device);
        long fanIn = weight.numel() / weight.shape[0];
        double bound = 1.0 / Math.Sqrt(fanIn);
        foreach (Tensor? parameter in new[] { weight, bias })
        {
            if (parameter is null)
            {
                continue;
            }
            Tensor unit = rand(parameter.shape, dtype: parameter.dtype, device: parameter.device, generator: generator);
            Tensor values = unit.mul(Scalars.Of(2 * bound)).sub(Scalars.Of(bound));
            parameter.copy_(values);
            GC.KeepAlive(values);
        }
    }

    private static double[][] Maps(Func<Tensor, Tensor> attribute, Tensor inputs, bool absolute)
    {
        using var scope = NewDisposeScope();
        Tensor relevance = attribute(inputs);
        if (relevance.shape[0] != inputs.shape[0])
        {
            throw new InvalidOperationException($"The attribution returned {relevance.shape[0]} maps for {inputs.shape[0]} inputs.");
        }
        Tensor maps = relevance.detach().to(ScalarType.Float64);
        if (maps.dim() == 4)
        {
            maps = maps.sum(1);
        }
        if (absolute)
        {
            maps = maps.abs();
        }
        maps = maps.reshape(maps.shape[0], -1).cpu();
        return Enumerable.Range(0, (int)maps.shape[0]).Select(i => maps[i].data<double>().ToArray()).ToArray();
    }
}
