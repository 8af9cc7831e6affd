using RelevanceSharp.Composites;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// SmoothGrad: the gradient averaged over noisy copies of the input. The noise has standard deviation
/// <c>noiseLevel * (max - min)</c> of each sample; the last iteration uses the input itself, so one iteration is the
/// plain gradient. A seed makes the noise reproducible.
/// </summary>
public sealed class SmoothGrad : Attributor
{
    /// <summary>Creates the attributor.</summary>
    public SmoothGrad(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null,
        double noiseLevel = 0.1, int iterations = 20, long? seed = null)
        : base(model, composite, target)
    {
        if (iterations < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "SmoothGrad needs at least one iteration.");
        }
        if (double.IsNaN(noiseLevel) || noiseLevel < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(noiseLevel), noiseLevel, "The noise level must be non-negative.");
        }
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
        long[] dims = Enumerable.Range(1, (int)input.dim() - 1).Select(d => (long)d).ToArray();
        Tensor std = dims.Length == 0
            ? zeros_like(input)
            : (input.amax(dims, keepdim: true) - input.amin(dims, keepdim: true)) * NoiseLevel;
        using Generator generator = Seed.HasValue ? new Generator((ulong)Seed.Value, input.device) : new Generator(device: input.device);
        Tensor result = zeros_like(input);
        Tensor output = input;
        for (int n = 0; n < Iterations; n++)
        {
            Tensor noisy = n == Iterations - 1
                ? input
                : input + randn(input.shape, dtype: input.dtype, device: input.device, generator: generator) * std;
            (output, Tensor gradient) = Gradient(noisy, target);
            result += gradient / Iterations;
        }
        return (output, result);
    }
}
