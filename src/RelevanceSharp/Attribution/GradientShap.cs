using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// Gradient SHAP (Captum's <c>GradientShap</c>; Lundberg and Lee 2017, expected gradients of Erion et al. 2021): the
/// expected value, over random baselines <c>b</c>, noise <c>e</c> and a point <c>alpha</c> on the path, of
/// <c>(x + e - b) * df/dx</c> at <c>b + alpha * (x + e - b)</c>. Estimated from <c>n</c> samples: sample <c>k</c> draws a
/// baseline <c>b_k</c> from the baseline distribution, Gaussian noise <c>e_k</c> and <c>alpha_k</c> uniform in [0, 1), one
/// per input sample, and the attribution is <c>1/n sum_k (x + e_k - b_k) * g(b_k + alpha_k (x + e_k - b_k))</c>.
/// </summary>
/// <remarks>
/// As in Captum, the noise is added to the input before the baseline difference is taken, and the baselines are drawn
/// with replacement from a distribution given as a tensor of baselines (<c>(B, ...)</c>, each shaped like one input sample).
/// Without one, each baseline is uniform noise: every element drawn uniformly between the input sample's smallest and
/// largest value (<c>baselines=uniform</c> in the registry; <c>baselines=zeros</c> is the zero baseline, with which the
/// method is Integrated Gradients at random points of the path). The noise standard deviation is
/// <c>noiseLevel * (max - min)</c> of each sample, as in <see cref="SmoothGrad"/> (Captum's <c>stdevs</c> is that product).
/// All draws come from one generator seeded with the seed, in the order: noise, baselines, alphas, per sample <c>k</c>.
/// </remarks>
public sealed class GradientShap : Attributor
{
    /// <summary>The number of samples unless given another.</summary>
    public const int DefaultSamples = 20;

    /// <summary>The noise level unless given another.</summary>
    public const double DefaultNoiseLevel = SmoothGrad.DefaultNoiseLevel;

    /// <summary>The baseline distribution's name in the registry: uniform noise in each sample's range.</summary>
    public const string UniformBaselines = "uniform";

    /// <summary>The other baseline distribution's name in the registry: the zero input alone.</summary>
    public const string ZeroBaselines = "zeros";

    private static readonly ArgumentSpec SamplesArgument =
        ArgumentSpec.WholeNumber("iterations", DefaultSamples, "Samples of baseline, noise and path point.") with { Minimum = 1 };

    private static readonly ArgumentSpec NoiseLevelArgument =
        ArgumentSpec.Number("noise_level", DefaultNoiseLevel, "Noise standard deviation relative to each sample's value range.") with { Minimum = 0 };

    private static readonly ArgumentSpec BaselinesArgument =
        new("baselines", "name", UniformBaselines, $"The baseline distribution: {UniformBaselines} (noise in each sample's range) or {ZeroBaselines}.");

    private static readonly ArgumentSpec SeedArgument = ArgumentSpec.WholeNumber("seed", 0, "Seed of the draws, so that runs repeat exactly.");

    private readonly Tensor? baselines;

    /// <summary>The registry entry: <c>gradient_shap</c> (also <c>gradientshap</c>).</summary>
    [RegistryEntry(35)]
    public static MethodEntry Entry { get; } = new("gradient_shap",
        "Gradient SHAP: expected gradients over random baselines, noise and points on the path (Captum's GradientShap).",
        [SamplesArgument, NoiseLevelArgument, BaselinesArgument, SeedArgument],
        c =>
        {
            string distribution = c.Arguments.Strings(BaselinesArgument.Name)?.SingleOrDefault() ?? UniformBaselines;
            bool zeros = distribution switch
            {
                ZeroBaselines => true,
                UniformBaselines => false,
                _ => throw new ArgumentException($"gradient_shap: baselines must be {UniformBaselines} or {ZeroBaselines}; got '{distribution}'."),
            };
            return new GradientShap(c.Model, c.Composite, c.Target, zeros ? ZeroBaseline : null, (int)c.Arguments.WholeNumber(SamplesArgument),
                c.Arguments.Number(NoiseLevelArgument), c.Arguments.WholeNumber(SeedArgument));
        })
    {
        Aliases = ["gradientshap", "gradient-shap"],
        Describe = (v, composite) => $"Gradient SHAP ({v["iterations"]} samples, {v["baselines"]} baselines, noise {v["noise_level"]})" +
            (composite is null ? "" : $" of LRP with {composite}"),
    };

    // A distribution of one baseline, zero, broadcast to every sample.
    private static Tensor ZeroBaseline => zeros(1);

    /// <summary>Creates the attributor.</summary>
    /// <param name="model">The model.</param>
    /// <param name="composite">The composite that modifies the gradient, or none.</param>
    /// <param name="target">The target of calls that give none.</param>
    /// <param name="baselines">
    /// The baseline distribution, <c>(B, ...)</c>: B baselines each shaped like one input sample or broadcastable to it (a
    /// <c>(B)</c> tensor holds one constant per baseline); <c>null</c> for uniform noise in each sample's range.
    /// </param>
    /// <param name="samples">Samples of baseline, noise and path point.</param>
    /// <param name="noiseLevel">Noise standard deviation relative to each sample's value range; 0 for none.</param>
    /// <param name="seed">Seed of the draws, or <c>null</c> for a random one.</param>
    public GradientShap(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null, Tensor? baselines = null,
        int samples = DefaultSamples, double noiseLevel = DefaultNoiseLevel, long? seed = null)
        : base(model, composite, target)
    {
        if (samples < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(samples), samples, "Gradient SHAP needs at least one sample.");
        }
        if (double.IsNaN(noiseLevel) || noiseLevel < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(noiseLevel), noiseLevel, "The noise level must be non-negative.");
        }
        if (baselines is not null && (baselines.dim() < 1 || baselines.shape[0] < 1))
        {
            throw new ArgumentException("The baseline distribution needs at least one baseline along its first dimension.", nameof(baselines));
        }
        this.baselines = baselines?.detach().clone().DetachFromDisposeScope();
        Samples = samples;
        NoiseLevel = noiseLevel;
        Seed = seed;
    }

    /// <summary>Samples averaged.</summary>
    public int Samples { get; }

    /// <summary>Noise standard deviation relative to each sample's value range.</summary>
    public double NoiseLevel { get; }

    /// <summary>Seed of the draws, or <c>null</c> for a random one.</summary>
    public long? Seed { get; }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        long batch = input.shape[0];
        long[] perSample = [batch, .. Enumerable.Repeat(1L, (int)input.dim() - 1)];
        Tensor std = NoiseTunnel.NoiseScale(input, NoiseLevel);
        long[] dims = Enumerable.Range(1, (int)input.dim() - 1).Select(d => (long)d).ToArray();
        Tensor low = dims.Length == 0 ? input : input.amin(dims, keepdim: true), high = dims.Length == 0 ? input : input.amax(dims, keepdim: true);
        using Generator generator = Seed.HasValue ? new Generator((ulong)Seed.Value, input.device) : new Generator(device: input.device);
        Tensor result = zeros_like(input);
        for (int k = 0; k < Samples; k++)
        {
            Tensor noisy = NoiseLevel == 0 ? input : input.add(randn(input.shape, dtype: input.dtype, device: input.device, generator: generator) * std, Scalars.One);
            Tensor baseline = Draw(input, low, high, generator);
            Tensor alpha = rand(perSample, dtype: input.dtype, device: input.device, generator: generator);
            Tensor difference = noisy - baseline;
            (_, Tensor gradient) = Gradient(baseline.add(alpha * difference, Scalars.One), target);
            result = result.add((difference * gradient).div(Scalars.Of(Samples)), Scalars.One);
        }
        Tensor output;
        using (no_grad())
        {
            output = Model.call(input);
        }
        return (output, result);
    }

    // One baseline per input sample: drawn with replacement from the distribution, or uniform in the sample's range.
    private Tensor Draw(Tensor input, Tensor low, Tensor high, Generator generator)
    {
        if (baselines is null)
        {
            return low.add((high - low) * rand(input.shape, dtype: input.dtype, device: input.device, generator: generator), Scalars.One);
        }
        Tensor index = randint(baselines.shape[0], [input.shape[0]], dtype: ScalarType.Int64, device: baselines.device, generator: generator);
        Tensor drawn = baselines.index_select(0, index).to(input.dtype, input.device);
        int missing = (int)input.dim() - (int)drawn.dim();
        try
        {
            // Trailing dimensions line up, as in broadcasting: a baseline of fewer dimensions gets singletons after the batch.
            return missing < 0
                ? throw new ArgumentException("too many dimensions")
                : drawn.reshape([input.shape[0], .. Enumerable.Repeat(1L, missing), .. drawn.shape.Skip(1)]).expand(input.shape);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ArgumentException(
                $"The baselines have shape {TensorShapes.Format(baselines.shape)}, which does not fit inputs of shape {TensorShapes.Format(input.shape)}.", ex);
        }
    }
}
