using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// What a perturbed patch is replaced with. Each baseline turns a batch of images <c>(N, C, H, W)</c> into a
/// replacement of the same shape; perturbing a patch copies the replacement's pixels of that patch (all channels)
/// into the image.
/// </summary>
public abstract class PerturbationBaseline
{
    /// <summary>The names <see cref="Parse"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["zeros", "mean", "blur", "noise"];

    /// <summary>A short name for tables and file names, e.g. <c>blur(sigma=2)</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Zeros everywhere. For normalized inputs this is the dataset mean, not black.</summary>
    public static PerturbationBaseline Zeros { get; } = new ZerosBaseline();

    /// <summary>Each image's own mean, per channel, over all its pixels.</summary>
    public static PerturbationBaseline Mean { get; } = new MeanBaseline();

    /// <summary>
    /// The image blurred with a Gaussian of standard deviation <paramref name="sigma"/> pixels: a depthwise
    /// convolution (each channel on its own) with a normalized <c>(2 * ceil(3 * sigma) + 1)</c>-square kernel, the
    /// image's border pixels repeated outwards so that a constant image stays constant.
    /// </summary>
    public static PerturbationBaseline Blur(double sigma = 2.0) => new BlurBaseline(sigma);

    /// <summary>
    /// Uniform noise in each image's value range <c>[min, max)</c> (over all its channels and pixels). The noise of
    /// the image at index <c>i</c> of the evaluated set is drawn from a generator seeded by
    /// <paramref name="seed"/> and <c>i</c>, so it is reproducible and does not depend on batching.
    /// </summary>
    public static PerturbationBaseline UniformNoise(long seed = 0) => new NoiseBaseline(seed);

    /// <summary>A baseline by name (<see cref="Names"/>), with the blur's sigma and the noise's seed.</summary>
    /// <exception cref="ArgumentException">The name is not known.</exception>
    public static PerturbationBaseline Parse(string name, double sigma = 2.0, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "zeros" or "zero" => Zeros,
            "mean" => Mean,
            "blur" => Blur(sigma),
            "noise" or "uniform" => UniformNoise(seed),
            _ => throw new ArgumentException($"Unknown baseline '{name}'; known baselines: {string.Join(", ", Names)}."),
        };
    }

    /// <summary>
    /// The replacement for <paramref name="images"/> <c>(N, C, H, W)</c>; <paramref name="firstIndex"/> is the index
    /// of the first of them in the whole evaluated set (it matters for seeded baselines only).
    /// </summary>
    public Tensor Create(Tensor images, long firstIndex = 0)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4)
        {
            throw new ArgumentException($"Baselines work on image batches (N, C, H, W); got shape [{string.Join(", ", images.shape)}].", nameof(images));
        }
        using var scope = NewDisposeScope();
        return Compute(images.detach(), firstIndex).MoveToOuterDisposeScope();
    }

    /// <summary>Computes the replacement for a detached batch of images.</summary>
    protected abstract Tensor Compute(Tensor images, long firstIndex);

    /// <inheritdoc />
    public override string ToString() => Name;

    private sealed class ZerosBaseline : PerturbationBaseline
    {
        public override string Name => "zeros";

        protected override Tensor Compute(Tensor images, long firstIndex) => zeros_like(images);
    }

    private sealed class MeanBaseline : PerturbationBaseline
    {
        public override string Name => "mean";

        protected override Tensor Compute(Tensor images, long firstIndex) =>
            images.mean(new long[] { 2, 3 }, keepdim: true).expand_as(images).contiguous();
    }

    private sealed class BlurBaseline : PerturbationBaseline
    {
        private readonly double sigma;

        public BlurBaseline(double sigma)
        {
            if (!double.IsFinite(sigma) || sigma <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "The blur's sigma must be a positive number of pixels.");
            }
            this.sigma = sigma;
        }

        public override string Name => $"blur(sigma={sigma.ToString("G4", CultureInfo.InvariantCulture)})";

        protected override Tensor Compute(Tensor images, long firstIndex)
        {
            long radius = (long)Math.Ceiling(3 * sigma);
            long size = 2 * radius + 1;
            Tensor offsets = arange(Scalars.Of(-radius), Scalars.Of(radius + 1), Scalars.One, dtype: ScalarType.Float64);
            Tensor line = exp((-offsets.pow(Scalars.Of(2.0))).div(Scalars.Of((2 * sigma * sigma))));
            Tensor kernel = line.outer(line);
            kernel /= kernel.sum();
            long channels = images.shape[1];
            Tensor weight = kernel.to(images.dtype, images.device).expand(channels, 1, size, size).contiguous();
            Tensor padded = nn.functional.pad(images, new[] { radius, radius, radius, radius }, PaddingModes.Replicate);
            return nn.functional.conv2d(padded, weight, groups: channels);
        }
    }

    private sealed class NoiseBaseline : PerturbationBaseline
    {
        private readonly long seed;

        public NoiseBaseline(long seed) => this.seed = seed;

        public override string Name => $"noise(seed={seed.ToString(CultureInfo.InvariantCulture)})";

        protected override Tensor Compute(Tensor images, long firstIndex)
        {
            var result = new List<Tensor>();
            for (long i = 0; i < images.shape[0]; i++)
            {
                Tensor image = images[i];
                using var generator = new Generator(Seeds.Derive(seed, firstIndex + i), images.device);
                Tensor low = image.min(), high = image.max();
                Tensor unit = rand(image.shape, dtype: images.dtype, device: images.device, generator: generator);
                result.Add(low.add(unit * (high - low), Scalars.One));
            }
            return stack(result);
        }
    }
}
