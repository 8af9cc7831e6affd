using RelevanceSharp.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Attribution;

/// <summary>
/// f(x) = sum(x^p) / p per sample, one output: its gradient is x^(p-1), so p = 2 gives the input itself (HalfSquare) and
/// p = 3 its square (CubeSum); the methods' hand values follow from that.
/// </summary>
internal sealed class PowerSum(int power) : nn.Module<Tensor, Tensor>(power == 2 ? "HalfSquare" : $"PowerSum{power}")
{
    /// <summary>f(x) = sum(x^2) / 2, whose gradient is x.</summary>
    public static PowerSum HalfSquare() => new(2);

    /// <summary>f(x) = sum(x^3) / 3, whose gradient is x^2.</summary>
    public static PowerSum CubeSum() => new(3);

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.pow(Scalars.Of((long)power)).sum(1, keepdim: true).div(Scalars.Of((double)power));
}
