using RelevanceSharp.Layers;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Language.Models;

/// <summary>
/// The rotary position embedding of LLaMA-family models (Hugging Face's default rope, with linear or LLaMA 3
/// frequency scaling): for a query or key of shape (batch, heads, tokens, head_dim) at positions 0, 1, ...,
/// <c>x * cos + rotate_half(x) * sin</c>, with <c>rotate_half(x) = cat(-x[half:], x[:half])</c> and angles
/// <c>position * inv_freq</c> repeated twice along the head dimension, <c>inv_freq_i = theta^(-2i / head_dim)</c>.
/// A linear map without offset and without parameters: composites give it input times gradient
/// (<see cref="ILinearOperation"/>). Angles are computed in float64 and rounded once to the input's type.
/// </summary>
public sealed class RotaryEmbedding : nn.Module<Tensor, Tensor>, ILinearOperation
{
    private readonly double[] inverseFrequencies;
    private (long Tokens, ScalarType Type, string Device, Tensor Cos, Tensor Sin)? cache;

    /// <summary>Creates the embedding for heads of <paramref name="headDim"/> dimensions.</summary>
    public RotaryEmbedding(long headDim, double theta, RopeScaling? scaling = null) : base(nameof(RotaryEmbedding))
    {
        if (headDim < 2 || headDim % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "The rotary embedding needs an even head dimension.");
        }
        HeadDim = headDim;
        inverseFrequencies = InverseFrequencies(headDim, theta, scaling ?? RopeScaling.None);
    }

    /// <summary>The head dimension.</summary>
    public long HeadDim { get; }

    /// <summary>The frequency of each pair of dimensions, after scaling (<c>head_dim / 2</c> values).</summary>
    public IReadOnlyList<double> Frequencies => inverseFrequencies;

    /// <summary>
    /// Hugging Face's <c>inv_freq</c>: <c>theta^(-2i/d)</c>, then scaled. LLaMA 3: wavelengths <c>2 pi / f</c> longer than
    /// <c>original / low_freq_factor</c> are divided by <c>factor</c>, shorter than <c>original / high_freq_factor</c>
    /// kept, and those between blended with <c>s = (original / wavelength - low) / (high - low)</c>:
    /// <c>(1 - s) f / factor + s f</c>.
    /// </summary>
    internal static double[] InverseFrequencies(long headDim, double theta, RopeScaling scaling)
    {
        var result = new double[headDim / 2];
        for (int i = 0; i < result.Length; i++)
        {
            double f = Math.Pow(theta, -2.0 * i / headDim);
            switch (scaling.Type)
            {
                case RopeType.Linear:
                    f /= scaling.Factor;
                    break;
                case RopeType.Llama3:
                    double original = scaling.OriginalMaxPositions;
                    double wavelength = 2 * Math.PI / f;
                    if (wavelength > original / scaling.LowFrequencyFactor)
                    {
                        f /= scaling.Factor;
                    }
                    else if (wavelength >= original / scaling.HighFrequencyFactor)
                    {
                        double s = (original / wavelength - scaling.LowFrequencyFactor) / (scaling.HighFrequencyFactor - scaling.LowFrequencyFactor);
                        f = (1 - s) * f / scaling.Factor + s * f;
                    }
                    break;
            }
            result[i] = f;
        }
        return result;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (input.dim() != 4 || input.shape[^1] != HeadDim)
        {
            throw new ArgumentException(
                $"The rotary embedding takes (batch, heads, tokens, {HeadDim}); got {Core.TensorShapes.Format(input.shape)}.");
        }
        var (cos, sin) = Angles(input.shape[2], input.dtype, input.device);
        long half = HeadDim / 2;
        Tensor rotated = cat(new[] { input.narrow(-1, half, half).neg(), input.narrow(-1, 0, half) }, -1);
        return (input * cos).add(rotated * sin, Scalars.One);
    }

    private (Tensor Cos, Tensor Sin) Angles(long tokens, ScalarType type, Device device)
    {
        if (cache is { } c && c.Tokens == tokens && c.Type == type && c.Device == device.ToString())
        {
            return (c.Cos, c.Sin);
        }
        var angles = new double[tokens * HeadDim];
        for (long t = 0; t < tokens; t++)
        {
            for (int i = 0; i < inverseFrequencies.Length; i++)
            {
                double angle = t * inverseFrequencies[i];
                angles[t * HeadDim + i] = angle;
                angles[t * HeadDim + i + inverseFrequencies.Length] = angle;
            }
        }
        Tensor cos, sin;
        using (var scope = NewDisposeScope())
        {
            Tensor a = tensor(angles, new[] { tokens, HeadDim }, ScalarType.Float64);
            cos = a.cos().to(type, device).DetachFromDisposeScope();
            sin = a.sin().to(type, device).DetachFromDisposeScope();
        }
        ReleaseCache();
        cache = (tokens, type, device.ToString(), cos, sin);
        return (cos, sin);
    }

    private void ReleaseCache()
    {
        if (cache is { } c)
        {
            c.Cos.Dispose();
            c.Sin.Dispose();
        }
        cache = null;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ReleaseCache();
        }
        base.Dispose(disposing);
    }
}
