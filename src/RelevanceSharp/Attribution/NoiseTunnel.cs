using RelevanceSharp.Composites;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Attribution;

/// <summary>
/// The common part of the noise methods, <see cref="SmoothGrad"/> and Captum's NoiseTunnel variants
/// <see cref="SmoothGradSquared"/> and <see cref="VarGrad"/>: their noise level, sample count and seed, and for the last two the
/// gradient (with a composite, LRP) at <c>n</c> noisy copies of the input, every copy noisy, and the first two moments of
/// those <c>n</c> attributions, element by element: <c>mean = 1/n sum_k a_k</c> and <c>meanOfSquares = 1/n sum_k a_k^2</c>.
/// </summary>
/// <remarks>
/// The noise of sample <c>k</c> is Gaussian with standard deviation <c>noiseLevel * (max - min)</c> of each input sample (the
/// SmoothGrad paper's noise level, and that of <see cref="SmoothGrad"/> here; Captum's <c>stdevs</c> is that product),
/// drawn from a generator seeded with the seed. Unlike <see cref="SmoothGrad"/>, which follows zennit and keeps its last
/// iteration noise-free, every one of the <c>n</c> samples is noisy, as in Captum, so the moments are those of <c>n</c>
/// independent draws. The model output returned is that of the input itself (one more forward pass).
/// </remarks>
public abstract class NoiseTunnel : Attributor
{
    /// <summary>The noise level unless given another.</summary>
    public const double DefaultNoiseLevel = 0.1;

    /// <summary>The number of noisy samples unless given another.</summary>
    public const int DefaultIterations = 20;

    /// <summary>The <c>noise_level</c> argument of the registry entries.</summary>
    protected static readonly ArgumentSpec NoiseLevelArgument =
        ArgumentSpec.Number("noise_level", DefaultNoiseLevel, "Noise standard deviation relative to each sample's value range.") with { Minimum = 0 };

    /// <summary>The <c>iterations</c> argument of the registry entries.</summary>
    protected static readonly ArgumentSpec IterationsArgument =
        ArgumentSpec.WholeNumber("iterations", DefaultIterations, "Noisy samples (every one noisy).") with { Minimum = 1 };

    /// <summary>The <c>seed</c> argument of the registry entries.</summary>
    protected static readonly ArgumentSpec SeedArgument = ArgumentSpec.WholeNumber("seed", 0, "Seed of the noise, so that runs repeat exactly.");

    /// <summary>Creates the attributor.</summary>
    protected NoiseTunnel(nn.Module<Tensor, Tensor> model, Composite? composite, AttributionTarget? target, double noiseLevel, int iterations,
        long? seed)
        : base(model, composite, target)
    {
        CheckNoise(iterations, noiseLevel, GetType().Name);
        NoiseLevel = noiseLevel;
        Iterations = iterations;
        Seed = seed;
    }

    /// <summary>Noise standard deviation relative to each sample's value range.</summary>
    public double NoiseLevel { get; }

    /// <summary>Number of noisy samples.</summary>
    public int Iterations { get; }

    /// <summary>Seed of the noise, or <c>null</c> for a random one.</summary>
    public long? Seed { get; }

    /// <summary>
    /// The model output at the input, and the mean and mean of squares of the <see cref="Iterations"/> noisy attributions;
    /// at layers asked for, the same two moments of what reaches them.
    /// </summary>
    protected (Tensor Output, Tensor Mean, Tensor MeanOfSquares, IReadOnlyList<(Tensor Mean, Tensor MeanOfSquares)>? Layers) Moments(
        Tensor input, AttributionTarget target)
    {
        Tensor std = NoiseScale(input, NoiseLevel);
        using Generator generator = Seed.HasValue ? new Generator((ulong)Seed.Value, input.device) : new Generator(device: input.device);
        Tensor mean = zeros_like(input), squares = zeros_like(input);
        List<(Tensor Mean, Tensor MeanOfSquares)>? layers = null;
        for (int n = 0; n < Iterations; n++)
        {
            Tensor noisy = input.add(randn(input.shape, dtype: input.dtype, device: input.device, generator: generator) * std, Scalars.One);
            (_, Tensor gradient) = Gradient(noisy, target);
            mean = mean.add(gradient.div(Scalars.Of(Iterations)), Scalars.One);
            squares = squares.add(gradient.pow(Scalars.Of(2.0)).div(Scalars.Of(Iterations)), Scalars.One);
            if (Layers?.LastGradients is { } atLayers)
            {
                layers ??= atLayers.Select(g => (zeros_like(g), zeros_like(g))).ToList();
                layers = layers.Zip(atLayers, (m, g) => (m.Mean.add(g.div(Scalars.Of(Iterations)), Scalars.One), m.MeanOfSquares.add(g.pow(Scalars.Of(2.0)).div(Scalars.Of(Iterations)), Scalars.One))).ToList();
            }
        }
        Tensor output;
        using (no_grad())
        {
            output = Model.call(input);
        }
        return (output, mean, squares, layers);
    }

    /// <summary>Refuses fewer than one iteration and a negative or NaN noise level, for <paramref name="method"/>.</summary>
    private static void CheckNoise(int iterations, double noiseLevel, string method)
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
