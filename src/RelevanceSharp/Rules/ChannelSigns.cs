using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Rules;

/// <summary>
/// Which channels of a layer input hold positive values and which hold negative ones (a channel may hold both; one
/// holding a NaN counts as both, so the NaN reaches the result). Channels are the last dimension of a dense layer's
/// input and dimension 1 of a convolution's. This is how ZPlus and Gamma decide which parts of an input enter their
/// one extra layer call; it is public so that measurements (the benchmark's <c>--floor</c>) can split inputs exactly
/// as the engine does.
/// </summary>
public sealed class ChannelSigns
{
    private ChannelSigns(long dim, long count, long[] positive, long[] negative)
    {
        Dim = dim;
        Count = count;
        Positive = positive;
        Negative = negative;
    }

    /// <summary>The channel dimension of the input.</summary>
    public long Dim { get; }

    /// <summary>The number of channels.</summary>
    public long Count { get; }

    /// <summary>Channels with a value above zero (every channel when the input has no negative values).</summary>
    public long[] Positive { get; }

    /// <summary>Channels with a value below zero.</summary>
    public long[] Negative { get; }

    /// <summary>Whether the input has no negative values.</summary>
    public bool NonNegative => Negative.Length == 0;

    /// <summary>Whether the input has no positive values (and some negative ones).</summary>
    public bool NonPositive => Positive.Length == 0;

    /// <summary>The signs of a dense layer's or convolution's input, by its channels.</summary>
    public static ChannelSigns OfLayerInput(nn.Module module, Tensor x) =>
        Of(x, module is Convolution convolution ? x.dim() - convolution.kernel_size.Length - 1 : x.dim() - 1);

    /// <summary>
    /// Looks at the input's channels: one reduction for the minimum of each channel, and one for the maximum only
    /// where some minimum is negative (after a ReLU the first settles it).
    /// </summary>
    public static ChannelSigns Of(Tensor x, long dim)
    {
        long count = x.shape[dim];
        long[] all = Range(count);
        if (x.numel() == 0)
        {
            return new ChannelSigns(dim, count, all, Array.Empty<long>());
        }
        long[] others = Enumerable.Range(0, (int)x.dim()).Where(d => d != dim).Select(d => (long)d).ToArray();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor values = x.detach();
        // "Not >= 0" rather than "< 0", and "not <= 0" below, so that a NaN counts.
        long[] negative = Flagged(others.Length == 0 ? values : values.amin(others), m => m.ge(Scalars.Of(0.0)).logical_not());
        if (negative.Length == 0)
        {
            return new ChannelSigns(dim, count, all, negative);
        }
        long[] positive = Flagged(others.Length == 0 ? values : values.amax(others), m => m.le(Scalars.Of(0.0)).logical_not());
        return new ChannelSigns(dim, count, positive, negative);
    }

    private static long[] Flagged(Tensor extremes, Func<Tensor, Tensor> test)
    {
        bool[] flags = test(extremes).cpu().data<bool>().ToArray();
        return Enumerable.Range(0, flags.Length).Where(i => flags[i]).Select(i => (long)i).ToArray();
    }

    private static long[] Range(long count)
    {
        var result = new long[count];
        for (long i = 0; i < count; i++)
        {
            result[i] = i;
        }
        return result;
    }
}
