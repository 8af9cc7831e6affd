using RelevanceSharp.Onnx.Building;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>The window attributes of convolutions and pools, resolved for a known input shape.</summary>
internal sealed record Spatial(long[] Kernel, long[] Strides, long[] Dilations, long[] PadBegin, long[] PadEnd)
{
    /// <summary>Whether the padding is the same before and after in every dimension.</summary>
    public bool Symmetric => PadBegin.SequenceEqual(PadEnd);

    /// <summary>
    /// Reads <c>strides</c>, <c>dilations</c> (when the operator has them), <c>pads</c> and <c>auto_pad</c> for the
    /// spatial dimensions of <paramref name="input"/> and a kernel: <c>NOTSET</c> takes <c>pads</c> (all zero when
    /// absent), <c>VALID</c> none, <c>SAME_UPPER</c>/<c>SAME_LOWER</c> as much as keeps <c>ceil(size / stride)</c> outputs, the odd
    /// element after (UPPER) or before (LOWER).
    /// </summary>
    public static Spatial Read(NodeContext context, long[] input, long[] kernel, bool dilations = true)
    {
        int n = kernel.Length;
        if (input.Length != n + 2)
        {
            throw context.Fail($"its input has rank {input.Length}; a window of {n} spatial dimensions needs rank {n + 2}");
        }
        if (kernel.Any(k => k < 1))
        {
            throw context.Fail($"its kernel [{string.Join(", ", kernel)}] has a size below 1");
        }
        long[] strides = Helpers.IntsOr(context, "strides", n, 1);
        long[] dilation = dilations ? Helpers.IntsOr(context, "dilations", n, 1) : Enumerable.Repeat(1L, n).ToArray();
        if (strides.Any(s => s < 1) || dilation.Any(d => d < 1))
        {
            throw context.Fail("its strides and dilations must be positive");
        }
        string autoPad = context.String("auto_pad", "NOTSET");
        var begin = new long[n];
        var end = new long[n];
        switch (autoPad)
        {
            case "NOTSET":
                long[] pads = Helpers.IntsOr(context, "pads", 2 * n, 0);
                if (pads.Any(p => p < 0))
                {
                    throw context.Fail($"its pads [{string.Join(", ", pads)}] are negative");
                }
                Array.Copy(pads, 0, begin, 0, n);
                Array.Copy(pads, n, end, 0, n);
                break;
            case "VALID":
                break;
            case "SAME_UPPER" or "SAME_LOWER":
                for (int d = 0; d < n; d++)
                {
                    long size = input[d + 2];
                    long outputs = (size + strides[d] - 1) / strides[d];
                    long total = Math.Max(0, (outputs - 1) * strides[d] + (kernel[d] - 1) * dilation[d] + 1 - size);
                    begin[d] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                    end[d] = total - begin[d];
                }
                break;
            default:
                throw context.Fail($"its auto_pad '{Errors.Clip(autoPad)}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
        }
        if (begin.Concat(end).Any(p => p > 1 << 20) || strides.Concat(dilation).Any(v => v > 1 << 20) || kernel.Any(k => k > 1 << 20))
        {
            throw context.Fail("its window, strides, dilations or pads are implausibly large");
        }
        return new Spatial(kernel, strides, dilation, begin, end);
    }
}
