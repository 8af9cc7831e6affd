using RelevanceSharp.Onnx.Building;
using RelevanceSharp.Onnx.Reading;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>
/// Constants and the computations on shapes that exporters emit (<c>Shape</c> → <c>Gather</c> → <c>Unsqueeze</c> →
/// <c>Concat</c> → <c>Reshape</c>, with <c>Cast</c>, <c>Equal</c>, <c>Where</c>, ...). The input's shape is fixed when the
/// model is loaded, so all of these are computed then and never run with the model.
/// </summary>
internal static class ConstantOperators
{
    public static void Constant(NodeContext context)
    {
        switch (context.Version)
        {
            case < 9:
                context.Attributes("value");
                break;
            case < 12:
                context.Attributes("value", "sparse_value");
                break;
            default:
                context.Attributes("value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings");
                break;
        }
        string[] given = new[] { "value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings" }
            .Where(context.Has).ToArray();
        if (given.Length != 1)
        {
            throw context.Fail($"it must have exactly one value attribute, not {given.Length}");
        }
        Tensor value = given[0] switch
        {
            "value" => context.TensorAttribute("value")!,
            "value_float" => tensor(context.Float("value_float", 0)).to(ScalarType.Float32),
            "value_floats" => tensor(context.Floats("value_floats")!),
            "value_int" => tensor(context.Int("value_int")),
            "value_ints" => tensor(context.Ints("value_ints")!),
            _ => throw context.Fail($"constants given as '{given[0]}' are not supported"),
        };
        if (value.is_floating_point() && value.dtype != context.FloatType)
        {
            value = value.to(context.FloatType);
        }
        context.Output(0, context.Const(value));
    }

    public static void ConstantOfShape(NodeContext context)
    {
        context.Attributes("value");
        long[] shape = context.ConstantInts(0, "shape");
        if (shape.Length > context.Limits.MaxRank)
        {
            throw context.Fail($"its shape has more than {context.Limits.MaxRank} dimensions");
        }
        Helpers.CheckSize(context, shape, "result");
        Tensor fill = context.TensorAttribute("value") ?? zeros(1, ScalarType.Float32);
        if (fill.numel() != 1)
        {
            throw context.Fail("its value must hold one element");
        }
        if (fill.is_floating_point())
        {
            fill = fill.to(context.FloatType);
        }
        Value shapeValue = context.Input(0);
        context.Output(0, context.Fold(xs => fill.reshape(1).expand(xs[0].to(ScalarType.Int64).data<long>().ToArray()).contiguous(), shapeValue));
    }

    public static void Shape(NodeContext context)
    {
        context.Attributes(context.Version >= 15 ? ["end", "start"] : []);
        Value x = context.Input(0);
        long[] Of(long[] shape)
        {
            int rank = shape.Length;
            long start = context.Int("start", 0);
            long end = context.Int("end", rank);
            start = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
            end = Math.Clamp(end < 0 ? end + rank : end, 0, rank);
            return shape.Skip((int)start).Take((int)Math.Max(0, end - start)).ToArray();
        }
        Tensor first = tensor(Of(x.Shape), ScalarType.Int64);
        Tensor? second = x.ShapeAtBatch2.SequenceEqual(x.Shape) ? null : tensor(Of(x.ShapeAtBatch2), ScalarType.Int64);
        context.Output(0, context.Const(first, second));
    }

    public static void Cast(NodeContext context)
    {
        context.Attributes(context.Version >= 19 ? ["saturate", "to"] : ["to"]);
        int to = (int)context.Int("to");
        Value x = context.Input(0);
        if (ElementTypes.Size(to) == 0)
        {
            throw context.Fail($"it casts to {ElementTypes.Name(to)}, which is not supported");
        }
        if (!x.IsConstant)
        {
            if (!ElementTypes.IsFloat(to))
            {
                throw context.Fail($"it casts a value computed from the model's input to {ElementTypes.Name(to)}; only casts between float types are supported there");
            }
            // The model computes in one float type throughout; a cast between float types changes nothing then.
            context.Alias(0, x);
            return;
        }
        ScalarType type = ElementTypes.IsFloat(to) ? (to == ElementTypes.Double ? ScalarType.Float64 : context.FloatType) : ElementTypes.Held(to);
        context.Output(0, context.Fold(xs => to == ElementTypes.Bool ? xs[0].ne(Scalars.Of(0)) : xs[0].to(type), x));
    }

    public static void Range(NodeContext context)
    {
        context.Attributes();
        double start = context.ConstantScalar(0, "start");
        double limit = context.ConstantScalar(1, "limit");
        double delta = context.ConstantScalar(2, "delta");
        if (delta == 0 || !double.IsFinite(start) || !double.IsFinite(limit) || !double.IsFinite(delta))
        {
            throw context.Fail("its start, limit and delta must be finite and delta not 0");
        }
        double count = Math.Max(0, Math.Ceiling((limit - start) / delta));
        if (count > context.Limits.MaxAttributeElements)
        {
            throw context.Fail($"it makes {count:N0} values, more than the limit of {context.Limits.MaxAttributeElements:N0}");
        }
        Tensor first = context.Constant(0, "start");
        Tensor values = arange(Scalars.Of(start), Scalars.Of(start + count * delta), Scalars.Of(delta), dtype: first.dtype).narrow(0, 0, (long)count);
        context.Output(0, context.Const(values));
    }

    public static void Equal(NodeContext context) => Fold2(context, (a, b) => a.eq(b));

    public static void Where(NodeContext context)
    {
        context.Attributes();
        context.Output(0, context.Fold(xs => where(xs[0].to(ScalarType.Bool), xs[1], xs[2]), context.Input(0), context.Input(1), context.Input(2)));
    }

    public static void Floor(NodeContext context) => Fold1(context, a => a.is_floating_point() ? a.floor() : a);

    public static void Ceil(NodeContext context) => Fold1(context, a => a.is_floating_point() ? a.ceil() : a);

    public static void Min(NodeContext context) => FoldMany(context, (a, b) => minimum(a, b));

    public static void Max(NodeContext context) => FoldMany(context, (a, b) => maximum(a, b));

    private static void Fold1(NodeContext context, Func<Tensor, Tensor> compute)
    {
        context.Attributes();
        context.Output(0, context.Fold(xs => compute(xs[0]), context.Input(0)));
    }

    private static void Fold2(NodeContext context, Func<Tensor, Tensor, Tensor> compute)
    {
        context.Attributes();
        context.Output(0, context.Fold(xs => compute(xs[0], xs[1]), context.Input(0), context.Input(1)));
    }

    private static void FoldMany(NodeContext context, Func<Tensor, Tensor, Tensor> compute)
    {
        context.Attributes();
        if (context.InputCount == 0)
        {
            throw context.Fail("it has no inputs");
        }
        Value[] inputs = Enumerable.Range(0, context.InputCount).Select(context.Input).ToArray();
        context.Output(0, context.Fold(xs => xs.Aggregate(compute), inputs));
    }
}
