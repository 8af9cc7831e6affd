using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Rules;

/// <summary>
/// Layers whose output is their weight applied to the input plus the bias (dense layers and convolutions): with
/// non-negative weights, bias and input, the output is non-negative, so the sign of a denominator is known
/// without looking at it. Public for rules of your own whose <see cref="BasicRule.Shortcut"/> folds a stabilizer
/// into the bias, as ZPlus and Gamma do.
/// </summary>
public static class KnownSign
{
    /// <summary>
    /// Whether the layer is a dense layer or a convolution (standard or transposed) with a weight among its effective
    /// parameters: its output is then the weight applied to the input plus the bias, and a zero input gives the bias.
    /// </summary>
    public static bool IsAffine(nn.Module module, IReadOnlyDictionary<string, Tensor?> effective) =>
        module is Linear or Convolution && effective.TryGetValue("weight", out Tensor? weight) && weight is not null;

    /// <summary>
    /// <paramref name="bias"/> (a vector over output channels or a map, or none) plus <paramref name="shift"/>: the
    /// bias that makes the layer add the stabilizer of a denominator known to be non-negative.
    /// </summary>
    public static Tensor ShiftedBias(Tensor? bias, double shift, Tensor output, long channelDim) => bias is null
        ? full(output.shape[channelDim], Scalars.Of(shift), output.dtype, output.device)
        : bias.add(Scalars.Of(shift), Scalars.One);
}
