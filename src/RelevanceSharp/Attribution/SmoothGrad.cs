using RelevanceSharp.Composites;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Attribution;

/// <summary>
/// SmoothGrad: the gradient averaged over noisy copies of the input. The noise has standard deviation
/// <c>noiseLevel * (max - min)</c> of each sample; the last iteration uses the input itself, so one iteration is the
/// plain gradient. A seed makes the noise reproducible. At layers asked for, the same average of what reaches them.
/// </summary>
public sealed class SmoothGrad : NoiseTunnel
{
    private static readonly ArgumentSpec AveragedArgument =
        ArgumentSpec.WholeNumber("iterations", DefaultIterations, "Noisy samples averaged (the last is the input itself).") with { Minimum = 1 };

    /// <summary>The registry entry: <c>smoothgrad</c> (also spelled <c>smooth_grad</c>, as zennit does).</summary>
    [RegistryEntry(20)]
    public static MethodEntry Entry { get; } = new("smoothgrad", "SmoothGrad: gradients averaged over noisy copies of the input.",
        [NoiseLevelArgument, AveragedArgument, SeedArgument],
        c => new SmoothGrad(c.Model, c.Composite, c.Target, c.Arguments.Number(NoiseLevelArgument),
            (int)c.Arguments.WholeNumber(AveragedArgument), c.Arguments.WholeNumber(SeedArgument)))
    {
        Aliases = ["smooth_grad"],
        Describe = (v, composite) => $"SmoothGrad ({v["iterations"]} samples, noise {v["noise_level"]})" + (composite is null ? "" : $" of LRP with {composite}"),
    };

    /// <summary>Creates the attributor.</summary>
    public SmoothGrad(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null,
        double noiseLevel = DefaultNoiseLevel, int iterations = DefaultIterations, long? seed = null)
        : base(model, composite, target, noiseLevel, iterations, seed)
    {
    }

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
}
