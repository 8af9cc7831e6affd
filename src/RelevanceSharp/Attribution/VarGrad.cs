using RelevanceSharp.Composites;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Attribution;

/// <summary>
/// VarGrad (Captum's NoiseTunnel with <c>nt_type="vargrad"</c>; Adebayo et al. 2018): the variance of the gradients at
/// <c>n</c> noisy copies of the input, element by element, <c>1/n sum_k g_k^2 - (1/n sum_k g_k)^2</c> (the population
/// variance, as Captum computes it), every copy noisy (see <see cref="NoiseTunnel"/> for the noise). Never negative up to
/// rounding; zero where the gradient does not change with the noise. With a composite, the variance of the LRP relevance;
/// at layers asked for, the same variance of what reaches them.
/// </summary>
public sealed class VarGrad : NoiseTunnel
{
    /// <summary>The registry entry: <c>vargrad</c>.</summary>
    [RegistryEntry(24)]
    public static MethodEntry Entry { get; } = new("vargrad",
        "VarGrad: the variance of gradients at noisy copies of the input (Captum's NoiseTunnel vargrad).",
        [NoiseLevelArgument, IterationsArgument, SeedArgument],
        c => new VarGrad(c.Model, c.Composite, c.Target, c.Arguments.Number(NoiseLevelArgument),
            (int)c.Arguments.WholeNumber(IterationsArgument), c.Arguments.WholeNumber(SeedArgument)))
    {
        Aliases = ["var_grad", "var-grad"],
        Describe = (v, composite) => $"VarGrad ({v["iterations"]} samples, noise {v["noise_level"]})" + (composite is null ? "" : $" of LRP with {composite}"),
    };

    /// <summary>Creates the attributor.</summary>
    public VarGrad(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null,
        double noiseLevel = DefaultNoiseLevel, int iterations = DefaultIterations, long? seed = null)
        : base(model, composite, target, noiseLevel, iterations, seed)
    {
    }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        var (output, mean, squares, layers) = Moments(input, target);
        if (Layers is { } request)
        {
            request.Result = layers?.Select(l => l.MeanOfSquares - l.Mean.pow(Scalars.Of(2.0))).ToList();
        }
        return (output, squares - mean.pow(Scalars.Of(2.0)));
    }
}
