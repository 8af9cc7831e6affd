using RelevanceSharp.Core;
using RelevanceSharp.Onnx.Building;
using RelevanceSharp.Onnx.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>
/// Operators that move data without arithmetic. On computed tensors each becomes a module (relevance passes them
/// element for element by the ordinary gradient; copies made by a broadcast are summed back); on constants they are
/// folded at load time.
/// </summary>
internal static class ShapeOperators
{
    public static void Identity(NodeContext context)
    {
        context.Attributes();
        context.Alias(0, context.Input(0));
    }

    public static void Dropout(NodeContext context)
    {
        if (context.Version >= 12)
        {
            context.Attributes("seed");
            if (context.Optional(2) is not null && context.ConstantScalar(2, "training mode") != 0)
            {
                throw context.Fail("it is in training mode; export the model in evaluation mode");
            }
        }
        else
        {
            context.Attributes("ratio");
        }
        context.Unused(1, "the dropout mask");
        // At inference a dropout passes its input on unchanged.
        context.Alias(0, context.Input(0));
    }

    public static void Flatten(NodeContext context)
    {
        context.Attributes("axis");
        Value x = context.Input(0);
        long axis = context.Int("axis", 1);
        if (axis < 0 && context.Version < 11 || axis < -x.Rank || axis > x.Rank)
        {
            throw context.Fail($"its axis {axis} is out of range for a tensor of rank {x.Rank}");
        }
        context.Output(0, context.Module(new Modules.Flatten(axis < 0 ? axis + x.Rank : axis), null, x));
    }

    public static void Reshape(NodeContext context)
    {
        context.Attributes(context.Version >= 14 ? ["allowzero"] : []);
        bool allowZero = context.Int("allowzero", 0) != 0;
        Value x = context.Input(0);
        Value shape = context.Input(1);
        if (!shape.IsConstant)
        {
            throw context.Fail("its target shape is computed from the model's input values; only shapes known at load time are supported");
        }
        long[] target = Ints(context, shape.Constant!, "target shape");
        long[]? perBatch = null;
        if (shape.DependsOnBatch)
        {
            long[] second = Ints(context, shape.ConstantAtBatch2!, "target shape");
            if (second.Length != target.Length)
            {
                throw new BatchDependenceException(context.Fail("its target shape changes rank with the batch size"));
            }
            perBatch = second.Zip(target, (b, a) => b - a).ToArray();
        }
        if (x.IsConstant)
        {
            context.Output(0, context.Fold(xs => xs[0].reshape(new Modules.Reshape(Ints(context, xs[1], "target shape"), allowZero).Resolve(xs[0].shape)), x, shape));
            return;
        }
        var reshape = new Modules.Reshape(target, allowZero, perBatch, context.State);
        context.Output(0, context.Module(reshape, null, x));
    }

    /// <summary>A reshape back to the shape of <paramref name="like"/> (following the batch when it is open).</summary>
    public static Modules.Reshape ReshapeTo(NodeContext context, Value like)
    {
        long[]? perBatch = context.OpenBatch ? like.ShapeAtBatch2.Zip(like.Shape, (b, a) => b - a).ToArray() : null;
        return new Modules.Reshape(like.Shape, allowZero: true, perBatch, context.State);
    }

    private static long[] Ints(NodeContext context, Tensor value, string what)
    {
        if (value.is_floating_point() || value.dim() > 1 || value.numel() > context.Limits.MaxRank)
        {
            throw context.Fail($"its {what} must be a list of at most {context.Limits.MaxRank} integers");
        }
        return value.to(ScalarType.Int64).data<long>().ToArray();
    }

    public static void Transpose(NodeContext context)
    {
        context.Attributes("perm");
        Value x = context.Input(0);
        long[] perm = context.Ints("perm") ?? Enumerable.Range(0, x.Rank).Reverse().Select(a => (long)a).ToArray();
        if (perm.Length != x.Rank || !perm.Order().SequenceEqual(Enumerable.Range(0, x.Rank).Select(a => (long)a)))
        {
            throw context.Fail($"its perm [{string.Join(", ", perm)}] is not a permutation of the {x.Rank} dimensions");
        }
        context.Output(0, context.Module(new Permute(perm), null, x));
    }

    public static void Squeeze(NodeContext context)
    {
        Value x = context.Input(0);
        long[]? axes;
        if (context.Version >= 13)
        {
            context.Attributes();
            axes = context.Optional(1) is null ? null : context.ConstantInts(1, "axes");
        }
        else
        {
            context.Attributes("axes");
            axes = context.Ints("axes");
        }
        long[] removed = axes is null
            ? Enumerable.Range(0, x.Rank).Where(d => x.Shape[d] == 1 && x.ShapeAtBatch2[d] == 1).Select(d => (long)d).ToArray()
            : Helpers.Axes(context, axes, x.Rank);
        foreach (long d in removed)
        {
            if (x.Shape[d] != 1 || x.ShapeAtBatch2[d] != 1)
            {
                throw context.Fail($"it removes dimension {d} of shape {TensorShapes.Format(x.Shape)}, which is not of size 1");
            }
        }
        context.Output(0, context.Module(new SqueezeDims(removed, []), null, x));
    }

    public static void Unsqueeze(NodeContext context)
    {
        Value x = context.Input(0);
        long[] axes;
        if (context.Version >= 13)
        {
            context.Attributes();
            axes = context.ConstantInts(1, "axes");
        }
        else
        {
            context.Attributes("axes");
            axes = context.Ints("axes") ?? throw context.Fail("its attribute 'axes' is missing");
        }
        long[] inserted = Helpers.Axes(context, axes, x.Rank + axes.Length);
        if (x.Rank + inserted.Length > context.Limits.MaxRank)
        {
            throw context.Fail($"its result would have more than {context.Limits.MaxRank} dimensions");
        }
        context.Output(0, context.Module(new SqueezeDims([], inserted), null, x));
    }

    public static void Concat(NodeContext context)
    {
        context.Attributes("axis");
        if (context.InputCount == 0)
        {
            throw context.Fail("it has no inputs");
        }
        Value[] inputs = Enumerable.Range(0, context.InputCount).Select(context.Input).ToArray();
        int rank = inputs[0].Rank;
        if (rank == 0 || inputs.Any(v => v.Rank != rank))
        {
            throw context.Fail("its inputs must all have the same rank, at least 1");
        }
        long axis = context.Has("axis") ? context.Int("axis") : throw context.Fail("its attribute 'axis' is missing");
        if (axis < 0 && context.Version < 11)
        {
            throw context.Fail($"its axis {axis} is negative, which operator set version {context.Version} does not allow");
        }
        axis = Helpers.Axis(context, axis, rank);
        for (int d = 0; d < rank; d++)
        {
            if (d != axis && inputs.Any(v => v.Shape[d] != inputs[0].Shape[d]))
            {
                throw context.Fail($"its inputs differ in dimension {d}, which is not the axis");
            }
        }
        if (inputs.All(v => v.IsConstant))
        {
            context.Output(0, context.Fold(xs =>
            {
                ScalarType type = xs.Any(t => t.is_floating_point()) ? xs.First(t => t.is_floating_point()).dtype : xs[0].dtype;
                return cat(xs.Select(t => t.to(type)).ToArray(), axis);
            }, inputs));
            return;
        }
        var parts = inputs.Select(v => v.IsConstant ? Helpers.Float(context, ConstantPart(context, v)) : null).ToArray();
        Value[] computed = inputs.Where(v => !v.IsConstant).ToArray();
        nn.Module module = computed.Length == 1 ? new ConcatOne(axis, parts) : new Modules.Concat(axis, parts);
        context.Output(0, context.Module(module, null, computed));
    }

    private static Tensor ConstantPart(NodeContext context, Value value)
    {
        if (value.DependsOnBatch)
        {
            throw new BatchDependenceException(context.Fail("a constant part depends on the batch size"));
        }
        return value.Constant!;
    }

    public static void Split(NodeContext context)
    {
        Value x = context.Input(0);
        long[]? sizes;
        switch (context.Version)
        {
            case < 13:
                context.Attributes("axis", "split");
                sizes = context.Ints("split");
                break;
            case < 18:
                context.Attributes("axis");
                sizes = context.Optional(1) is null ? null : context.ConstantInts(1, "split");
                break;
            default:
                context.Attributes("axis", "num_outputs");
                sizes = context.Optional(1) is null ? null : context.ConstantInts(1, "split");
                break;
        }
        if (x.Rank == 0)
        {
            throw context.Fail("its input is a scalar");
        }
        long axis = context.Int("axis", 0);
        if (axis < 0 && context.Version < 11)
        {
            throw context.Fail($"its axis {axis} is negative, which operator set version {context.Version} does not allow");
        }
        axis = Helpers.Axis(context, axis, x.Rank);
        long length = x.Shape[axis];
        if (x.ShapeAtBatch2[axis] != length)
        {
            throw new BatchDependenceException(context.Fail("it splits the batch dimension"));
        }
        int outputs = context.OutputCount;
        if (sizes is null)
        {
            long parts = context.Has("num_outputs") ? context.Int("num_outputs") : outputs;
            if (parts != outputs || parts < 1)
            {
                throw context.Fail($"it has {outputs} outputs but splits into {parts} parts");
            }
            long each = context.Version >= 18 ? (length + parts - 1) / parts : length / parts;
            if (context.Version < 18 && length % parts != 0)
            {
                throw context.Fail($"it splits a dimension of {length} into {parts} equal parts");
            }
            sizes = Enumerable.Range(0, (int)parts).Select(i => Math.Max(0, Math.Min(each, length - i * each))).ToArray();
        }
        if (sizes.Length != outputs || sizes.Any(s => s < 0) || sizes.Sum() != length)
        {
            throw context.Fail($"its split sizes [{string.Join(", ", sizes)}] do not divide a dimension of {length} into its {outputs} outputs");
        }
        long start = 0;
        for (int i = 0; i < outputs; i++)
        {
            long end = start + sizes[i];
            if (context.Node.Output[i].Length > 0 && context.OutputUsed(i))
            {
                var slice = new Modules.Slice([start], [end], [axis], [1]);
                context.Output(i, context.Module(slice, i.ToString(System.Globalization.CultureInfo.InvariantCulture), x));
            }
            start = end;
        }
    }

    public static void Slice(NodeContext context)
    {
        Value x = context.Input(0);
        long[] starts, ends;
        long[]? axes, steps = null;
        if (context.Version < 10)
        {
            context.Attributes("axes", "ends", "starts");
            starts = context.Ints("starts") ?? throw context.Fail("its attribute 'starts' is missing");
            ends = context.Ints("ends") ?? throw context.Fail("its attribute 'ends' is missing");
            axes = context.Ints("axes");
        }
        else
        {
            context.Attributes();
            starts = context.ConstantInts(1, "starts");
            ends = context.ConstantInts(2, "ends");
            axes = context.Optional(3) is null ? null : context.ConstantInts(3, "axes");
            steps = context.Optional(4) is null ? null : context.ConstantInts(4, "steps");
        }
        axes ??= Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
        steps ??= Enumerable.Repeat(1L, starts.Length).ToArray();
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
        {
            throw context.Fail("its starts, ends, axes and steps differ in length");
        }
        if (steps.Any(s => s == 0))
        {
            throw context.Fail("a step of 0");
        }
        axes = Helpers.Axes(context, axes, x.Rank);
        foreach (long axis in axes)
        {
            if (x.ShapeAtBatch2[axis] != x.Shape[axis] && !x.IsConstant)
            {
                throw new BatchDependenceException(context.Fail("it slices the batch dimension"));
            }
        }
        context.Output(0, context.Module(new Modules.Slice(starts, ends, axes, steps), null, x));
    }

    public static void Pad(NodeContext context)
    {
        Value x = context.Input(0);
        long[] pads;
        double value = 0.0;
        long[]? axes = null;
        string mode;
        if (context.Version < 11)
        {
            context.Attributes("mode", "pads", "value");
            pads = context.Ints("pads") ?? throw context.Fail("its attribute 'pads' is missing");
            value = context.Float("value", 0.0);
        }
        else
        {
            context.Attributes("mode");
            pads = context.ConstantInts(1, "pads");
            if (context.Optional(2) is not null)
            {
                value = context.ConstantScalar(2, "constant value");
            }
            if (context.Version >= 18 && context.Optional(3) is not null)
            {
                axes = Helpers.Axes(context, context.ConstantInts(3, "axes"), x.Rank);
            }
        }
        mode = context.String("mode", "constant");
        if (mode is not ("constant" or "reflect" or "edge") && !(mode == "wrap" && context.Version >= 19))
        {
            throw context.Fail($"its mode '{Errors.Clip(mode)}' is not supported at operator set version {context.Version}");
        }
        axes ??= Enumerable.Range(0, x.Rank).Select(a => (long)a).ToArray();
        if (pads.Length != 2 * axes.Length)
        {
            throw context.Fail($"it has {pads.Length} pads for {axes.Length} axes");
        }
        var begin = new long[x.Rank];
        var end = new long[x.Rank];
        for (int i = 0; i < axes.Length; i++)
        {
            begin[axes[i]] = pads[i];
            end[axes[i]] = pads[i + axes.Length];
        }
        long[] result = x.Shape.Select((s, d) => s + begin[d] + end[d]).ToArray();
        Helpers.CheckSize(context, result, "result");
        if (begin.Concat(end).Any(p => p != 0 && Math.Abs(p) > 1 << 24))
        {
            throw context.Fail("its pads are implausibly large");
        }
        if (mode != "constant")
        {
            int[] padded = Enumerable.Range(0, x.Rank).Where(d => begin[d] != 0 || end[d] != 0).ToArray();
            if (padded.Any(d => d < 2) || padded.Length > 3 || begin.Concat(end).Any(p => p < 0)
                || padded.Any(d => mode == "reflect" && (begin[d] >= x.Shape[d] || end[d] >= x.Shape[d])))
            {
                throw context.Fail($"'{mode}' padding is supported on up to three dimensions after the first two, with non-negative pads smaller than the dimension");
            }
        }
        context.Output(0, context.Module(new Modules.Pad(begin, end, mode, value), null, x));
    }

    public static void Gather(NodeContext context)
    {
        context.Attributes("axis");
        Value x = context.Input(0);
        Value indices = context.Input(1);
        if (x.Rank == 0)
        {
            throw context.Fail("it indexes a scalar");
        }
        long axis = Helpers.Axis(context, context.Int("axis", 0), x.Rank);
        if (!indices.IsConstant)
        {
            throw context.Fail("its indices are computed from the model's input; only constant indices are supported");
        }
        Tensor index = context.Constant(1, "indices");
        if (index.is_floating_point() || index.dtype == ScalarType.Bool)
        {
            throw context.Fail("its indices are not integers");
        }
        if (index.numel() > context.Limits.MaxAttributeElements)
        {
            throw context.Fail($"it has more than {context.Limits.MaxAttributeElements:N0} indices");
        }
        long[] flat = index.to(ScalarType.Int64).flatten().data<long>().ToArray();
        long size = x.Shape[axis];
        if (x.ShapeAtBatch2[axis] != size)
        {
            throw new BatchDependenceException(context.Fail("it indexes the batch dimension"));
        }
        if (flat.Any(i => i < -size || i >= size))
        {
            throw context.Fail($"an index is out of range for a dimension of {size}");
        }
        long[] result = x.Shape.Take((int)axis).Concat(index.shape).Concat(x.Shape.Skip((int)axis + 1)).ToArray();
        Helpers.CheckSize(context, result, "result");
        context.Output(0, context.Module(new Modules.Gather(axis, flat, index.shape), null, x));
    }

    public static void Expand(NodeContext context)
    {
        context.Attributes();
        Value x = context.Input(0);
        Value shape = context.Input(1);
        if (!shape.IsConstant)
        {
            throw context.Fail("its target shape is computed from the model's input values; only shapes known at load time are supported");
        }
        long[] target = Ints(context, shape.Constant!, "shape");
        long[] result;
        try
        {
            result = Modules.Expand.Broadcast(x.Shape, target);
        }
        catch (ArgumentException)
        {
            throw context.Fail($"its input of shape {TensorShapes.Format(x.Shape)} does not broadcast to {TensorShapes.Format(target)}");
        }
        Helpers.CheckSize(context, result, "result");
        if (x.IsConstant)
        {
            context.Output(0, context.Fold(xs => xs[0].expand(Modules.Expand.Broadcast(xs[0].shape, Ints(context, xs[1], "shape"))), x, shape));
            return;
        }
        if (shape.DependsOnBatch)
        {
            throw new BatchDependenceException(context.Fail("its target shape depends on the batch size"));
        }
        context.Output(0, context.Module(new Modules.Expand(target), null, x));
    }
}
