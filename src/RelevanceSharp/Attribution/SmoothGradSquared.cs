using RelevanceSharp.Composites;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// SmoothGrad squared (Captum's NoiseTunnel with <c>nt_type="smoothgrad_sq"</c>; Hooker et al. 2019): the mean of the
/// squared gradients at <c>n</c> noisy copies of the input, <c>1/n sum_k g(x + e_k)^2</c> element by element, every
/// copy noisy (see <see cref="NoiseTunnel"/> for the noise). Never negative: it says how strongly, not in which direction,
/// an element matters. With a composite, the squares are of the LRP relevance; at layers asked for, the same mean of squares.
/// </summary>
public sealed class SmoothGradSquared : NoiseTunnel
{
    /// <summary>The registry entry: <c>smoothgrad_sq</c> (Captum's <c>nt_type</c>; also spelled <c>smoothgrad_squared</c>).</summary>
    [RegistryEntry(22)]
    public static MethodEntry Entry { get; } = new("smoothgrad_sq",
        "SmoothGrad squared: the mean of squared gradients at noisy copies of the input (Captum's NoiseTunnel smoothgrad_sq).",
        [NoiseLevelArgument, IterationsArgument, SeedArgument],
        c => new SmoothGradSquared(c.Model, c.Composite, c.Target, c.Arguments.Number(NoiseLevelArgument),
            (int)c.Arguments.WholeNumber(IterationsArgument), c.Arguments.WholeNumber(SeedArgument)))
    {
        Aliases = ["smoothgrad_squared", "smoothgrad-squared", "smoothgrad-sq"],
        Describe = (v, composite) => $"SmoothGrad squared ({v["iterations"]} samples, noise {v["noise_level"]})" + (composite is null ? "" : $" of LRP with {composite}"),
    };

    /// <summary>Creates the attributor.</summary>
    public SmoothGradSquared(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null,
        double noiseLevel = DefaultNoiseLevel, int iterations = DefaultIterations, long? seed = null)
        : base(model, composite, target, noiseLevel, iterations, seed)
    {
    }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        var (output, _, squares, layers) = Moments(input, target);
        if (Layers is { } request)
        {
            request.Result = layers?.Select(l => l.MeanOfSquares).ToList();
        }
        return (output, squares);
    }
}
