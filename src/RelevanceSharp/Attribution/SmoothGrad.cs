using RelevanceSharp.Composites;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Attribution;

/// <summary>
/// SmoothGrad: the gradient averaged over noisy copies of the input. The noise has standard deviation
/// <c>noiseLevel * (max - min)</c> of each sample; the last iteration uses the input itself, so one iteration is the
/// plain gradient. A seed makes the noise reproducible. At layers asked for, the same average of what reaches them.
/// </summary>
public sealed class SmoothGrad : Attributor
{
    /// <summary>The noise level unless given another.</summary>
    public const double DefaultNoiseLevel = 0.1;

    /// <summary>The number of noisy samples unless given another.</summary>
    public const int DefaultIterations = 20;

    private static readonly ArgumentSpec NoiseLevelArgument =
        ArgumentSpec.Number("noise_level", DefaultNoiseLevel, "Noise standard deviation relative to each sample's value range.") with { Minimum = 0 };

    private static readonly ArgumentSpec IterationsArgument =
        ArgumentSpec.WholeNumber("iterations", DefaultIterations, "Noisy samples averaged (the last is the input itself).") with { Minimum = 1 };

    private static readonly ArgumentSpec SeedArgument = ArgumentSpec.WholeNumber("seed", 0, "Seed of the noise, so that runs repeat exactly.");

    /// <summary>The registry entry: <c>smoothgrad</c> (also spelled <c>smooth_grad</c>, as zennit does).</summary>
    [RegistryEntry(20)]
    public static MethodEntry Entry { get; } = new("smoothgrad", "SmoothGrad: gradients averaged over noisy copies of the input.",
        [NoiseLevelArgument, IterationsArgument, SeedArgument],
        c => new SmoothGrad(c.Model, c.Composite, c.Target, c.Arguments.Number(NoiseLevelArgument),
            (int)c.Arguments.WholeNumber(IterationsArgument), c.Arguments.WholeNumber(SeedArgument)))
    {
        Aliases = ["smooth_grad"],
        Describe = (v, composite) => $"SmoothGrad ({v["iterations"]} samples, noise {v["noise_level"]})" + (composite is null ? "" : $" of LRP with {composite}"),
    };

    /// <summary>Creates the attributor.</summary>
    public SmoothGrad(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null,
        double noiseLevel = DefaultNoiseLevel, int iterations = DefaultIterations, long? seed = null)
        : base(model, composite, target)
    {
        CheckNoise(iterations, noiseLevel, "SmoothGrad");
        NoiseLevel = noiseLevel;
        Iterations = iterations;
        Seed = seed;
    }

    /// <summary>Noise standard deviation relative to each sample's value range.</summary>
    public double NoiseLevel { get; }

    /// <summary>Number of gradients averaged.</summary>
    public int Iterations { get; }

    /// <summary>Seed of the noise, or <c>null</c> for a random one.</summary>
    public long? Seed { get; }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        Tensor std = NoiseScale(input, NoiseLevel);
        using Generator generator = Seed.HasValue ? new Generator((ulong)Seed.Value, input.device) : new Generator(device: input.device);
        Tensor result = zeros_like(input);
        Tensor output = input;
        for (int n = 0; n < Iterations; n++)
        {
            Tensor noisy = n == Iterations - 1
                ? input
                : input.add(randn(input.shape, dtype: input.dtype, device: input.device, generator: generator) * std, Scalars.One);
            (output, Tensor gradient) = Gradient(noisy, target);
            result = result.add(gradient.div(Scalars.Of(Iterations)), Scalars.One);
            if (Layers is { LastGradients: { } atLayers } layers)
            {
                // At layers, the same average of what reaches them.
                layers.Result = layers.Result is null
                    ? atLayers.Select(g => g.div(Scalars.Of(Iterations))).ToList()
                    : layers.Result.Zip(atLayers, (sum, g) => sum.add(g.div(Scalars.Of(Iterations)), Scalars.One)).ToList();
            }
        }
        return (output, result);
    }

    /// <summary>Refuses fewer than one iteration and a negative or NaN noise level, for <paramref name="method"/>.</summary>
    internal static void CheckNoise(int iterations, double noiseLevel, string method)
    {
        if (iterations < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, $"{method} needs at least one iteration.");
        }
        if (double.IsNaN(noiseLevel) || noiseLevel < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(noiseLevel), noiseLevel, "The noise level must be non-negative.");
        }
    }

    /// <summary>
    /// The noise standard deviation of each sample: <paramref name="level"/> times the sample's value range (its maximum
    /// minus its minimum over all but the batch dimension), shaped to broadcast against <paramref name="input"/>; zeros
    /// for an input without dimensions beyond the batch.
    /// </summary>
    internal static Tensor NoiseScale(Tensor input, double level)
    {
        long[] dims = Enumerable.Range(1, (int)input.dim() - 1).Select(d => (long)d).ToArray();
        return dims.Length == 0
            ? zeros_like(input)
            : (input.amax(dims, keepdim: true) - input.amin(dims, keepdim: true)).mul(Scalars.Of(level));
    }
}
