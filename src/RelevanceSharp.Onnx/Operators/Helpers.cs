using RelevanceSharp.Onnx.Building;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>Checks and conversions the converters share.</summary>
internal static class Helpers
{
    /// <summary>An axis in <c>[-rank, rank)</c> made non-negative; anything else is refused.</summary>
    public static long Axis(NodeContext context, long axis, int rank, string what = "axis")
    {
        if (axis < -rank || axis >= rank)
        {
            throw context.Fail($"its {what} {axis} is out of range for a tensor of rank {rank}");
        }
        return axis < 0 ? axis + rank : axis;
    }

    /// <summary>Several axes made non-negative and checked to be distinct.</summary>
    public static long[] Axes(NodeContext context, long[] axes, int rank, string what = "axes")
    {
        long[] result = axes.Select(a => Axis(context, a, rank, what)).ToArray();
        if (result.Distinct().Count() != result.Length)
        {
            throw context.Fail($"its {what} [{string.Join(", ", axes)}] repeat an axis");
        }
        return result;
    }

    /// <summary>
    /// A constant as the model computes with it: floats in the model's float type (on the CPU; the model's own
    /// <c>to</c> moves them with it).
    /// </summary>
    public static Tensor Float(NodeContext context, Tensor constant) =>
        constant.dtype == context.FloatType ? constant : constant.to(context.FloatType);

    /// <summary>A constant weight that must be given (not computed) for a layer.</summary>
    public static Tensor Weight(NodeContext context, int index, string what)
    {
        Value value = context.Input(index);
        if (!value.IsConstant)
        {
            throw context.Fail($"its {what} (input '{Errors.Clip(value.Name)}') is computed from the model's input; only a constant {what} is supported");
        }
        Tensor weight = context.Constant(index, what);
        if (!weight.is_floating_point())
        {
            throw context.Fail($"its {what} is not a floating-point tensor");
        }
        return Float(context, weight);
    }

    /// <summary>Copies <paramref name="source"/> into a parameter or buffer of a new module, checking the shape.</summary>
    public static void Fill(NodeContext context, Tensor target, Tensor source, string what)
    {
        if (!target.shape.SequenceEqual(source.shape))
        {
            if (target.numel() != source.numel())
            {
                throw context.Fail($"its {what} has shape {RelevanceSharp.Core.TensorShapes.Format(source.shape)}, where {RelevanceSharp.Core.TensorShapes.Format(target.shape)} is needed");
            }
            source = source.reshape(target.shape);
        }
        using var noGrad = no_grad();
        // Held in a variable until the copy is done: a temporary handed straight to copy_ can be finalized while
        // libtorch reads it (graphs are built outside any dispose scope); found by a crash loading EfficientNet-B0.
        Tensor converted = source.to(target.dtype);
        target.copy_(converted);
        GC.KeepAlive(converted);
    }

    /// <summary>A computed input that must be there (the data a layer works on).</summary>
    public static Value Data(NodeContext context, int index = 0)
    {
        Value value = context.Input(index);
        return value;
    }

    /// <summary>The numbers of an integer attribute or, when absent, <paramref name="count"/> copies of <paramref name="fallback"/>.</summary>
    public static long[] IntsOr(NodeContext context, string name, int count, long fallback)
    {
        long[] values = context.Ints(name) ?? Enumerable.Repeat(fallback, count).ToArray();
        if (values.Length != count)
        {
            throw context.Fail($"its attribute '{name}' has {values.Length} values; {count} are needed");
        }
        return values;
    }

    /// <summary>Whether a float attribute equals a value as stored in float32 (exporters write 1/6 as 0.16666667f).</summary>
    public static bool NearlyEqual(double a, double b) => Math.Abs(a - b) <= 1e-6 * Math.Max(1.0, Math.Abs(b));

    /// <summary>
    /// The elements a shape holds, or -1 when it has a negative dimension or its dimensions other than 0 multiply to
    /// more than the limit (checked without overflow; libtorch computes strides from them even without elements).
    /// </summary>
    public static long Elements(IEnumerable<long> shape, long limit)
    {
        long count = 1;
        long extent = 1;
        foreach (long d in shape)
        {
            if (d < 0 || d != 0 && extent > limit / d)
            {
                return -1;
            }
            extent *= Math.Max(d, 1);
            count *= d;
        }
        return count;
    }

    /// <summary>Refuses a shape with more elements than a computed value may have.</summary>
    public static void CheckSize(NodeContext context, IEnumerable<long> shape, string what)
    {
        long[] dims = shape.ToArray();
        if (Elements(dims, context.Limits.MaxValueElements) < 0)
        {
            throw context.Fail($"its {what} would have shape {RelevanceSharp.Core.TensorShapes.Format(dims)}: negative, or more than {context.Limits.MaxValueElements:N0} elements");
        }
    }
}
