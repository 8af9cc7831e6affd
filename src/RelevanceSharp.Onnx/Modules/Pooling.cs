using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using RelevanceSharp.Core;

namespace RelevanceSharp.Onnx.Modules;

/// <summary>
/// The window arithmetic of ONNX's pooling operators (as PyTorch computes it, which ONNX Runtime follows): output sizes
/// in floor and ceil mode, where a window that would start in the padding after the input is dropped.
/// </summary>
public static class PoolWindows
{
    /// <summary>The number of windows along one dimension.</summary>
    public static long Count(long size, long kernel, long stride, long dilation, long padBegin, long padEnd, bool ceil)
    {
        long span = (kernel - 1) * dilation + 1;
        long room = size + padBegin + padEnd - span;
        if (room < 0)
        {
            throw new ArgumentException($"A pooling window of {span} does not fit a dimension of {size} with padding {padBegin}+{padEnd}.");
        }
        long count = (ceil ? (room + stride - 1) / stride : room / stride) + 1;
        if (ceil && (count - 1) * stride >= size + padBegin)
        {
            count--;
        }
        return count;
    }

    /// <summary>The padding after the input that makes a plain (floor-mode, unpadded) pool give exactly <paramref name="count"/> windows.</summary>
    public static long PadEnd(long size, long kernel, long stride, long dilation, long padBegin, long count) =>
        (count - 1) * stride + (kernel - 1) * dilation + 1 - size - padBegin;
}

/// <summary>
/// ONNX <c>AveragePool</c> where TorchSharp's average pool cannot express the padding (pads that differ before and after,
/// or exceed half the window): the input is padded with zeros as the windows need, averaged over whole windows, and
/// each window's mean rescaled to the number of its elements that count (with <see cref="CountIncludePad"/> the input
/// and the declared padding, else the input only). Linear in its input and without parameters, like an average pool
/// (<see cref="Layers.ILinearOperation"/>: the named composites give it <c>Norm</c>, as they give average pools).
/// </summary>
public sealed class AveragePool : nn.Module<Tensor, Tensor>, Layers.ILinearOperation
{
    /// <summary>Creates the module.</summary>
    public AveragePool(long[] kernel, long[] strides, long[] padBegin, long[] padEnd, bool ceilMode, bool countIncludePad) : base("AveragePool")
    {
        if (kernel.Length is < 1 or > 3 || strides.Length != kernel.Length || padBegin.Length != kernel.Length || padEnd.Length != kernel.Length)
        {
            throw new ArgumentException("AveragePool: kernel, strides and pads need one entry per spatial dimension (1 to 3).");
        }
        Kernel = kernel.ToArray();
        Strides = strides.ToArray();
        PadBegin = padBegin.ToArray();
        PadEnd = padEnd.ToArray();
        CeilMode = ceilMode;
        CountIncludePad = countIncludePad;
    }

    /// <summary>The window per spatial dimension.</summary>
    public long[] Kernel { get; }

    /// <summary>The stride per spatial dimension.</summary>
    public long[] Strides { get; }

    /// <summary>The declared padding before each spatial dimension.</summary>
    public long[] PadBegin { get; }

    /// <summary>The declared padding after each spatial dimension.</summary>
    public long[] PadEnd { get; }

    /// <summary>Whether partial windows at the end count (ceil mode).</summary>
    public bool CeilMode { get; }

    /// <summary>Whether the declared padding counts in the divisor.</summary>
    public bool CountIncludePad { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        int n = Kernel.Length;
        long[] spatial = input.shape.Skip((int)input.dim() - n).ToArray();
        var counts = new long[n];
        var pads = new List<long>();
        Tensor? scale = null;
        for (int d = n - 1; d >= 0; d--)
        {
            counts[d] = PoolWindows.Count(spatial[d], Kernel[d], Strides[d], 1, PadBegin[d], PadEnd[d], CeilMode);
            pads.Add(PadBegin[d]);
            pads.Add(PoolWindows.PadEnd(spatial[d], Kernel[d], Strides[d], 1, PadBegin[d], counts[d]));
        }
        for (int d = 0; d < n; d++)
        {
            // The elements of window j that count, along dimension d: [j*s - pb, j*s - pb + k) cut to the counted range.
            long low = CountIncludePad ? -PadBegin[d] : 0;
            long high = CountIncludePad ? spatial[d] + PadEnd[d] : spatial[d];
            var factor = new double[counts[d]];
            for (long j = 0; j < counts[d]; j++)
            {
                long start = j * Strides[d] - PadBegin[d];
                long valid = Math.Min(start + Kernel[d], high) - Math.Max(start, low);
                factor[j] = valid > 0 ? (double)Kernel[d] / valid : 0.0;
            }
            long[] view = Enumerable.Repeat(1L, n).ToArray();
            view[d] = counts[d];
            Tensor along = tensor(factor, dtype: input.dtype, device: input.device).reshape(view);
            scale = scale is null ? along : scale * along;
        }
        Tensor padded = F.pad(input, pads.ToArray(), PaddingModes.Constant, 0.0);
        long[] zero = new long[n];
        Tensor mean = n switch
        {
            1 => F.avg_pool1d(padded, Kernel[0], Strides[0], 0, false, true),
            2 => F.avg_pool2d(padded, Kernel, Strides, zero, false, true, null),
            _ => F.avg_pool3d(padded, Kernel, Strides, zero, false, true, null),
        };
        // Windows that lie wholly in the counted range keep torch's mean unchanged (factor 1).
        bool whole = scale!.eq(Scalars.Of(1.0)).all().item<bool>();
        return whole ? mean : mean * scale;
    }
}

/// <summary>
/// ONNX <c>MaxPool</c> where TorchSharp's max pool cannot express the padding: the input is padded with -infinity as
/// the windows need and pooled without padding. Relevance goes to the maximal element of each window (the gradient).
/// </summary>
public sealed class MaxPool : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public MaxPool(long[] kernel, long[] strides, long[] padBegin, long[] padEnd, long[] dilations, bool ceilMode) : base("MaxPool")
    {
        if (kernel.Length is < 1 or > 3 || strides.Length != kernel.Length || padBegin.Length != kernel.Length
            || padEnd.Length != kernel.Length || dilations.Length != kernel.Length)
        {
            throw new ArgumentException("MaxPool: kernel, strides, pads and dilations need one entry per spatial dimension (1 to 3).");
        }
        Kernel = kernel.ToArray();
        Strides = strides.ToArray();
        PadBegin = padBegin.ToArray();
        PadEnd = padEnd.ToArray();
        Dilations = dilations.ToArray();
        CeilMode = ceilMode;
    }

    /// <summary>The window per spatial dimension.</summary>
    public long[] Kernel { get; }

    /// <summary>The stride per spatial dimension.</summary>
    public long[] Strides { get; }

    /// <summary>The declared padding before each spatial dimension.</summary>
    public long[] PadBegin { get; }

    /// <summary>The declared padding after each spatial dimension.</summary>
    public long[] PadEnd { get; }

    /// <summary>The dilation per spatial dimension.</summary>
    public long[] Dilations { get; }

    /// <summary>Whether partial windows at the end count (ceil mode).</summary>
    public bool CeilMode { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        int n = Kernel.Length;
        long[] spatial = input.shape.Skip((int)input.dim() - n).ToArray();
        var pads = new List<long>();
        for (int d = n - 1; d >= 0; d--)
        {
            long count = PoolWindows.Count(spatial[d], Kernel[d], Strides[d], Dilations[d], PadBegin[d], PadEnd[d], CeilMode);
            pads.Add(PadBegin[d]);
            pads.Add(PoolWindows.PadEnd(spatial[d], Kernel[d], Strides[d], Dilations[d], PadBegin[d], count));
        }
        Tensor padded = F.pad(input, pads.ToArray(), PaddingModes.Constant, double.NegativeInfinity);
        long[] zero = new long[n];
        return n switch
        {
            1 => F.max_pool1d(padded, Kernel[0], Strides[0], 0, Dilations[0], false),
            2 => F.max_pool2d(padded, Kernel, Strides, zero, Dilations, false),
            _ => F.max_pool3d(padded, Kernel, Strides, zero, Dilations, false),
        };
    }
}
