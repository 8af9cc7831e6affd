using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Rules;

/// <summary>
/// Term outputs known to be zero everywhere (a term whose input is zero and which has no bias): broadcast views that
/// cost no memory, which sums of term outputs skip instead of adding. A rule's gradient mapper receives such views
/// (and broadcast views of a bias, for terms whose input is zero but whose bias is not) among its term outputs: it
/// may read them and combine them out of place, for example with <see cref="Sum"/>, but must not write into them.
/// </summary>
public static class TermOutputs
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Tensor, object> Zeros = new();

    /// <summary>A zero of <paramref name="like"/>'s shape, dtype and device, marked as known zero.</summary>
    public static Tensor Zero(Tensor like)
    {
        Tensor zero = zeros(1, like.dtype, like.device).expand(like.shape);
        Zeros.AddOrUpdate(zero, Zeros);
        return zero;
    }

    /// <summary>Whether a tensor is a zero made by <see cref="Zero"/>.</summary>
    public static bool IsKnownZero(Tensor tensor) => Zeros.TryGetValue(tensor, out _);

    /// <summary><c>a + b</c>, skipping a known-zero summand (the other is returned as it is, not copied).</summary>
    public static Tensor Sum(Tensor a, Tensor b) => IsKnownZero(b) ? a : IsKnownZero(a) ? b : a.add(b, Scalars.One);
}
