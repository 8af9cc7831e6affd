using RelevanceSharp.Onnx.Building;
using RelevanceSharp.Onnx.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>
/// Pools become TorchSharp's pooling modules where those express the padding (the same before and after, at most half
/// the window), else <see cref="Modules.AveragePool"/> and <see cref="Modules.MaxPool"/>; global pools and means over
/// the spatial dimensions become adaptive pools, so that composites and canonizers treat them as zoo models' pools.
/// </summary>
internal static class PoolingOperators
{
    public static void MaxPool(NodeContext context)
    {
        switch (context.Version)
        {
            case 1:
                context.Attributes("auto_pad", "kernel_shape", "pads", "strides");
                break;
            case 8:
                context.Attributes("auto_pad", "kernel_shape", "pads", "storage_order", "strides");
                break;
            default:
                context.Attributes("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides");
                break;
        }
        context.Unused(1, "the indices of the maxima");
        Value x = context.Input(0);
        long[] kernel = context.Ints("kernel_shape") ?? throw context.Fail("its attribute 'kernel_shape' is missing");
        Spatial window = Spatial.Read(context, x.Shape, kernel, dilations: context.Version >= 10);
        bool ceil = context.Int("ceil_mode", 0) != 0;
        int n = kernel.Length;
        CheckFits(context, x, window, ceil);
        bool native = n <= 3 && window.Symmetric
            && Enumerable.Range(0, n).All(d => window.PadBegin[d] <= ((kernel[d] - 1) * window.Dilations[d] + 1) / 2);
        nn.Module<Tensor, Tensor> pool = !native
            ? new Modules.MaxPool(kernel, window.Strides, window.PadBegin, window.PadEnd, window.Dilations, ceil)
            : n switch
            {
                1 => nn.MaxPool1d(kernel[0], window.Strides[0], window.PadBegin[0], window.Dilations[0], ceil),
                2 => nn.MaxPool2d(kernel, window.Strides, window.PadBegin, window.Dilations, ceil),
                _ => nn.MaxPool3d(kernel, window.Strides, window.PadBegin, window.Dilations, ceil),
            };
        context.Output(0, context.Module(pool, null, x));
    }

    public static void AveragePool(NodeContext context)
    {
        switch (context.Version)
        {
            case 1:
                context.Attributes("auto_pad", "kernel_shape", "pads", "strides");
                break;
            case 7:
                context.Attributes("auto_pad", "count_include_pad", "kernel_shape", "pads", "strides");
                break;
            case 10 or 11:
                context.Attributes("auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides");
                break;
            default:
                context.Attributes("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides");
                break;
        }
        Value x = context.Input(0);
        long[] kernel = context.Ints("kernel_shape") ?? throw context.Fail("its attribute 'kernel_shape' is missing");
        Spatial window = Spatial.Read(context, x.Shape, kernel, dilations: context.Version >= 19);
        if (window.Dilations.Any(d => d != 1))
        {
            throw context.Fail("average pooling with dilations other than 1 is not supported");
        }
        bool ceil = context.Int("ceil_mode", 0) != 0;
        bool countPad = context.Int("count_include_pad", 0) != 0;
        int n = kernel.Length;
        CheckFits(context, x, window, ceil);
        bool native = n <= 3 && window.Symmetric && Enumerable.Range(0, n).All(d => window.PadBegin[d] <= kernel[d] / 2);
        nn.Module<Tensor, Tensor> pool = !native
            ? new Modules.AveragePool(kernel, window.Strides, window.PadBegin, window.PadEnd, ceil, countPad)
            : n switch
            {
                1 => nn.AvgPool1d(kernel[0], window.Strides[0], window.PadBegin[0], ceil, countPad),
                2 => nn.AvgPool2d(kernel, window.Strides, window.PadBegin, ceil, countPad),
                _ => nn.AvgPool3d(kernel, window.Strides, window.PadBegin, ceil, countPad),
            };
        context.Output(0, context.Module(pool, null, x));
    }

    private static void CheckFits(NodeContext context, Value x, Spatial window, bool ceil)
    {
        for (int d = 0; d < window.Kernel.Length; d++)
        {
            try
            {
                PoolWindows.Count(x.Shape[d + 2], window.Kernel[d], window.Strides[d], window.Dilations[d], window.PadBegin[d], window.PadEnd[d], ceil);
            }
            catch (ArgumentException ex)
            {
                throw context.Fail(ex.Message.TrimEnd('.'));
            }
        }
    }

    public static void GlobalAveragePool(NodeContext context)
    {
        context.Attributes();
        Value x = context.Input(0);
        context.Output(0, context.Module(AdaptiveAverage(context, x.Rank), null, x));
    }

    public static void GlobalMaxPool(NodeContext context)
    {
        context.Attributes();
        Value x = context.Input(0);
        nn.Module<Tensor, Tensor> pool = x.Rank switch
        {
            3 => nn.AdaptiveMaxPool1d(1),
            4 => nn.AdaptiveMaxPool2d(new long[] { 1, 1 }),
            5 => nn.AdaptiveMaxPool3d(new long[] { 1, 1, 1 }),
            _ => throw context.Fail($"global pools of inputs of rank {x.Rank} are not supported (3 to 5)"),
        };
        context.Output(0, context.Module(pool, null, x));
    }

    private static nn.Module<Tensor, Tensor> AdaptiveAverage(NodeContext context, int rank) => rank switch
    {
        3 => nn.AdaptiveAvgPool1d(1),
        4 => nn.AdaptiveAvgPool2d(new long[] { 1, 1 }),
        5 => nn.AdaptiveAvgPool3d(new long[] { 1, 1, 1 }),
        _ => throw context.Fail($"global pools of inputs of rank {rank} are not supported (3 to 5)"),
    };

    public static void ReduceMean(NodeContext context) => Reduce(context, ReduceOperation.Mean, axesAsInput: context.Version >= 18);

    public static void ReduceSum(NodeContext context) => Reduce(context, ReduceOperation.Sum, axesAsInput: context.Version >= 13);

    public static void ReduceMax(NodeContext context) => Reduce(context, null, axesAsInput: context.Version >= 18);

    /// <summary>A mean or sum (<paramref name="operation"/>), or a maximum (<c>null</c>).</summary>
    private static void Reduce(NodeContext context, ReduceOperation? operation, bool axesAsInput)
    {
        if (axesAsInput)
        {
            context.Attributes("keepdims", "noop_with_empty_axes");
        }
        else
        {
            context.Attributes("axes", "keepdims");
        }
        Value x = context.Input(0);
        long[]? given = axesAsInput ? context.Optional(1) is null ? null : context.ConstantInts(1, "axes") : context.Ints("axes");
        bool keep = context.Int("keepdims", 1) != 0;
        if (given is { Length: 0 } || given is null)
        {
            if (context.Int("noop_with_empty_axes", 0) != 0)
            {
                context.Alias(0, x);
                return;
            }
            given = null;
        }
        long[] axes = given is null ? Enumerable.Range(0, x.Rank).Select(a => (long)a).ToArray() : Helpers.Axes(context, given, x.Rank);
        nn.Module<Tensor, Tensor> Create() => operation is { } linear ? new Modules.Reduce(linear, axes, keep) : new Modules.ReduceMax(axes, keep);
        if (x.IsConstant)
        {
            context.Output(0, context.Module(Create(), null, x));
            return;
        }
        // A mean over all spatial dimensions of a (N, C, ...) tensor is a global average pool.
        long[] spatial = Enumerable.Range(2, Math.Max(0, x.Rank - 2)).Select(a => (long)a).ToArray();
        if (operation == ReduceOperation.Mean && x.Rank is >= 3 and <= 5 && axes.Order().SequenceEqual(spatial))
        {
            Value pooled = context.Module(AdaptiveAverage(context, x.Rank), null, x);
            context.Output(0, keep ? pooled : context.Module(new SqueezeDims(spatial, []), "squeeze", pooled));
            return;
        }
        context.Output(0, context.Module(Create(), null, x));
    }
}
