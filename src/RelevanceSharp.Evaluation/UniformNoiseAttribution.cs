using System.Runtime.InteropServices;
using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// A control attribution that ignores the model: uniform noise in <c>[0, 1)</c> for every input element. Region
/// perturbation of it amounts to perturbing in a random order, so every attribution worth its name should beat
/// it; it is the sanity row of <c>relevance evaluate</c> (configuration <c>random</c>).
/// </summary>
/// <remarks>
/// The noise of an image is drawn from a SplitMix64 generator seeded by <see cref="Seed"/> and a hash of the
/// image's values, so the same image gets the same noise whatever batch it comes in and however often it is
/// attributed; a model change (as in the randomization check) leaves the noise unchanged.
/// </remarks>
public sealed class UniformNoiseAttribution : Attributor
{
    /// <summary>The control's method name: <c>random</c>.</summary>
    public const string MethodName = "random";

    private static readonly ArgumentSpec SeedArgument = ArgumentSpec.WholeNumber("seed", 0, "Seed of the noise.");

    /// <summary>
    /// The registry entry: <c>random</c>, the control every attribution should beat. Declared here, with the noise it
    /// names, and known wherever this assembly is loaded.
    /// </summary>
    [RegistryEntry(50)]
    public static MethodEntry Entry { get; } = new(MethodName, "Uniform noise, ignoring the model: the control every attribution should beat.",
        [SeedArgument], c => new UniformNoiseAttribution(c.Model, c.Arguments.WholeNumber(SeedArgument)))
    {
        TakesComposite = false,
        Describe = (v, _) => $"uniform noise (seed {v["seed"]})",
    };

    /// <summary>The control with its default seed, which <c>relevance evaluate</c> adds to every evaluation.</summary>
    public static AttributionSpec Control => AttributionSpec.Create(MethodName);

    /// <summary>Whether <paramref name="spec"/> is the uniform-noise control (any seed).</summary>
    public static bool IsControl(AttributionSpec spec) => spec?.Method == MethodName;

    /// <summary>Creates the attribution for <paramref name="model"/>, whose output it still returns.</summary>
    public UniformNoiseAttribution(nn.Module<Tensor, Tensor> model, long seed = 0)
        : base(model)
    {
        Seed = seed;
    }

    /// <summary>The seed the noise is drawn with.</summary>
    public long Seed { get; }

    /// <inheritdoc />
    protected override bool TakesGradients => false;

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        Tensor output;
        using (no_grad())
        {
            output = Model.call(input);
        }
        long images = input.shape[0];
        long size = input.numel() / Math.Max(images, 1);
        using Tensor values = input.detach().to(ScalarType.Float32).cpu().contiguous().reshape(images, size);
        float[] flat = values.data<float>().ToArray();
        var noise = new float[flat.Length];
        for (long i = 0; i < images; i++)
        {
            var random = new SplitMix64(Seeds.Derive(Seed, Seeds.Hash(MemoryMarshal.AsBytes(flat.AsSpan((int)(i * size), (int)size)))));
            for (long j = i * size; j < (i + 1) * size; j++)
            {
                // The top 24 bits of a draw, scaled: every float in [0, 1) on a grid of 2^-24.
                noise[j] = (random.Next() >> 40) * (1.0f / (1 << 24));
            }
        }
        return (output, tensor(noise, input.shape, device: input.device).to(input.dtype));
    }
}
