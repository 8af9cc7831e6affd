using RelevanceSharp.Onnx.Building;
using RelevanceSharp.Onnx.Modules;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>
/// Element-wise arithmetic. With a constant operand it is an <see cref="Elementwise"/> module (relevance passes each
/// element unchanged); of two computed tensors it is a module with two inputs that a rule can split relevance over:
/// a sum is <see cref="Layers.Add"/> (a difference adds the negated second operand), a product is
/// <see cref="Layers.Multiply"/> (a quotient multiplies by the reciprocal of the divisor, which is the gate), with the
/// factor computed by a sigmoid, hard sigmoid or softmax named as the gate (squeeze-and-excitation gates, SiLU written
/// as <c>x * sigmoid(x)</c>).
/// </summary>
internal static class ArithmeticOperators
{
    private static readonly HashSet<string> GateOperators = new(StringComparer.Ordinal) { "Sigmoid", "HardSigmoid", "Softmax" };

    public static void Add(NodeContext context) => Binary(context, (a, b) => a.add(b, Scalars.One), ElementwiseOperation.AddConstant, ElementwiseOperation.AddConstant,
        (x, y) => context.Module(new Layers.Add(), null, x, y));

    public static void Sub(NodeContext context) => Binary(context, (a, b) => a - b, ElementwiseOperation.SubtractConstant,
        ElementwiseOperation.SubtractFromConstant,
        (x, y) => context.Module(new Layers.Add(), null, x, context.Module(new Elementwise(ElementwiseOperation.Negate), "neg", y)));

    public static void Mul(NodeContext context) => Binary(context, (a, b) => a * b, ElementwiseOperation.MultiplyConstant,
        ElementwiseOperation.MultiplyConstant, (x, y) => context.Module(new Layers.Multiply(Gate(x, y)), null, x, y));

    public static void Div(NodeContext context) => Binary(context, Divide, ElementwiseOperation.DivideByConstant, ElementwiseOperation.DivideConstant,
        (x, y) => context.Module(new Layers.Multiply(gate: 1), null, x, context.Module(new Elementwise(ElementwiseOperation.Reciprocal), "reciprocal", y)));

    public static void Pow(NodeContext context)
    {
        context.Attributes();
        Value x = context.Input(0);
        Value exponent = context.Input(1);
        if (x.IsConstant && exponent.IsConstant)
        {
            context.Output(0, context.Fold(xs => xs[0].pow(xs[1]), x, exponent));
            return;
        }
        if (!exponent.IsConstant)
        {
            throw context.Fail("its exponent is computed from the model's input; only a constant exponent is supported");
        }
        context.Output(0, WithConstant(context, x, Helpers.Float(context, context.Constant(1, "exponent")), ElementwiseOperation.Power, null));
    }

    public static void Sum(NodeContext context)
    {
        context.Attributes();
        if (context.InputCount == 0)
        {
            throw context.Fail("it has no inputs");
        }
        Value[] inputs = Enumerable.Range(0, context.InputCount).Select(context.Input).ToArray();
        Value[] constants = inputs.Where(v => v.IsConstant).ToArray();
        Value? constant = constants.Length == 0 ? null : context.Fold(xs => xs.Aggregate((a, b) => a.add(b, Scalars.One)), constants);
        Value[] computed = inputs.Where(v => !v.IsConstant).ToArray();
        if (computed.Length == 0)
        {
            context.Output(0, constant!);
            return;
        }
        Value total = computed[0];
        for (int i = 1; i < computed.Length; i++)
        {
            total = context.Module(new Layers.Add(), i == computed.Length - 1 && constant is null ? null : "add" + i, total, computed[i]);
        }
        if (constant is not null)
        {
            total = WithConstant(context, total, Helpers.Float(context, constant.Constant!), ElementwiseOperation.AddConstant, null);
        }
        else if (computed.Length == 1)
        {
            context.Alias(0, total);
            return;
        }
        context.Output(0, total);
    }

    private static Tensor Divide(Tensor a, Tensor b) =>
        a.is_floating_point() || b.is_floating_point() ? a / b : a.div(b, rounding_mode: RoundingMode.trunc);

    private static void Binary(NodeContext context, Func<Tensor, Tensor, Tensor> fold, ElementwiseOperation constantSecond,
        ElementwiseOperation constantFirst, Func<Value, Value, Value> computed)
    {
        context.Attributes();
        Value a = context.Input(0);
        Value b = context.Input(1);
        if (a.IsConstant && b.IsConstant)
        {
            context.Output(0, context.Fold(xs => fold(xs[0], xs[1]), a, b));
            return;
        }
        if (b.IsConstant)
        {
            context.Output(0, WithConstant(context, a, Helpers.Float(context, Constant(context, 1)), constantSecond, null));
            return;
        }
        if (a.IsConstant)
        {
            context.Output(0, WithConstant(context, b, Helpers.Float(context, Constant(context, 0)), constantFirst, null));
            return;
        }
        context.Output(0, computed(a, b));
    }

    private static Tensor Constant(NodeContext context, int index)
    {
        Tensor value = context.Constant(index, "constant operand");
        if (value.dtype == ScalarType.Bool)
        {
            throw context.Fail("its constant operand is boolean");
        }
        return value;
    }

    /// <summary>The factor that gates the other: the one computed by a sigmoid, hard sigmoid or softmax, if exactly one is.</summary>
    private static int? Gate(Value first, Value second)
    {
        bool IsGate(Value v) => v.Root.Producer is { } p && p.Domain is "" or "ai.onnx" && GateOperators.Contains(p.OpType);
        return (IsGate(first), IsGate(second)) switch
        {
            (true, false) => 0,
            (false, true) => 1,
            _ => null,
        };
    }

    /// <summary>
    /// <paramref name="x"/> combined element-wise with a constant; when the constant would broadcast <paramref name="x"/>
    /// to a larger shape, <paramref name="x"/> is expanded first, so that the arithmetic stays element-wise.
    /// </summary>
    public static Value WithConstant(NodeContext context, Value x, Tensor constant, ElementwiseOperation operation, string? role)
    {
        Value input = Broadcast(context, x, constant.shape);
        string? name = input == x ? role : role ?? "op";
        return context.Module(new Elementwise(operation, constant), name, input);
    }

    /// <summary><paramref name="x"/>, expanded to its broadcast with <paramref name="shape"/> when that is larger.</summary>
    public static Value Broadcast(NodeContext context, Value x, long[] shape)
    {
        long[] target;
        try
        {
            target = Expand.Broadcast(x.Shape, shape);
        }
        catch (ArgumentException)
        {
            throw context.Fail($"its operands of shapes {RelevanceSharp.Core.TensorShapes.Format(x.Shape)} and {RelevanceSharp.Core.TensorShapes.Format(shape)} do not broadcast");
        }
        if (target.SequenceEqual(x.Shape))
        {
            return x;
        }
        Helpers.CheckSize(context, target, "broadcast operand");
        return context.Module(new Expand(shape), "expand", x);
    }
}
