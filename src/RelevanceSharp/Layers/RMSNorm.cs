using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Layers;

/// <summary>
/// Root-mean-square normalization over the last dimension, <c>y = weight * x / sqrt(mean(x^2) + eps)</c>, as LLaMA-family
/// models use it (computed in the input's type). Under AttnLRP and CP-LRP the scale <c>1/sqrt(mean(x^2) + eps)</c> is
/// held constant, which makes the layer linear in <c>x</c> without offset, so the relevance passes it unchanged
/// (<c>Pass</c>). The parameter is named <c>weight</c>, as in Hugging Face's checkpoints.
/// </summary>
public sealed class RMSNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the layer with a weight of ones.</summary>
    /// <param name="size">The size of the last dimension.</param>
    /// <param name="eps">Added to the mean square before the root.</param>
    /// <param name="dtype">The weight's type.</param>
    /// <param name="device">The weight's device.</param>
    public RMSNorm(long size, double eps = 1e-6, ScalarType? dtype = null, Device? device = null) : base(nameof(RMSNorm))
    {
        if (size < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "An RMS norm needs a positive size.");
        }
        if (!double.IsFinite(eps) || eps < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(eps), eps, "The epsilon of an RMS norm must be finite and non-negative.");
        }
        Size = size;
        Eps = eps;
        weight = nn.Parameter(ones(size, dtype: dtype ?? get_default_dtype(), device: device));
        RegisterComponents();
    }

    private readonly TorchSharp.Modules.Parameter weight;

    /// <summary>The scale per feature.</summary>
    public TorchSharp.Modules.Parameter Weight => weight;

    /// <summary>The size of the normalized (last) dimension.</summary>
    public long Size { get; }

    /// <summary>Added to the mean square before the root.</summary>
    public double Eps { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (input.dim() == 0 || input.shape[^1] != Size)
        {
            throw new ArgumentException(
                $"RMSNorm({Size}) normalizes a last dimension of size {Size}; got an input of shape {Core.TensorShapes.Format(input.shape)}.");
        }
        Tensor scale = input.pow(Scalars.Of(2.0)).mean([-1L], keepdim: true).add_(Scalars.Of(Eps), Scalars.One).rsqrt_();
        return input * scale * weight;
    }
}
