using RelevanceSharp.Onnx.Building;
using RelevanceSharp.Onnx.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>
/// Activations become TorchSharp's activation modules where one computes exactly the ONNX function (composites know
/// them as activations and give them <c>Pass</c>; DeconvNet and guided backprop find the ReLUs), the others an
/// <see cref="Elementwise"/> module. Softmax becomes <c>nn.Softmax</c> (AttnLRP's softmax rule applies to it).
/// </summary>
internal static class ActivationOperators
{
    /// <summary>
    /// The operators whose output a ReLU may overwrite in place: their backward pass does not need their output, and
    /// their output is a fresh tensor (no view of another value).
    /// </summary>
    private static readonly HashSet<string> InPlaceSafe = new(StringComparer.Ordinal)
    {
        "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "InstanceNormalization", "Add", "Sum", "Concat",
        "MaxPool", "AveragePool", "GlobalAveragePool",
    };

    public static void Relu(NodeContext context)
    {
        context.Attributes();
        Value x = context.Input(0);
        // As PyTorch's torchvision models write it, a ReLU after a layer overwrites that layer's output when nothing
        // else reads it. The ThreshReLU canonizers rely on this: relevance then passes a ThreshReLU by its gradient.
        bool inPlace = !x.IsConstant && x.AliasOf is null && context.InputUses(0) == 1
            && x.Producer is { } producer && InPlaceSafe.Contains(producer.OpType) && producer.Domain is "" or "ai.onnx";
        Activation(context, nn.ReLU(inPlace));
    }

    public static void LeakyRelu(NodeContext context)
    {
        context.Attributes("alpha");
        Activation(context, nn.LeakyReLU(context.Float("alpha", 0.01)));
    }

    public static void Sigmoid(NodeContext context)
    {
        context.Attributes();
        Activation(context, nn.Sigmoid());
    }

    public static void Tanh(NodeContext context)
    {
        context.Attributes();
        Activation(context, nn.Tanh());
    }

    public static void HardSigmoid(NodeContext context)
    {
        context.Attributes("alpha", "beta");
        double alpha = context.Float("alpha", 0.2);
        double beta = context.Float("beta", 0.5);
        // PyTorch's hardsigmoid is relu6(x + 3) / 6, which ONNX writes with alpha 1/6 and beta 1/2.
        Activation(context, Helpers.NearlyEqual(alpha, 1.0 / 6.0) && beta == 0.5
            ? nn.Hardsigmoid()
            : new Elementwise(ElementwiseOperation.HardSigmoid, alpha: alpha, beta: beta));
    }

    public static void HardSwish(NodeContext context)
    {
        context.Attributes();
        Activation(context, nn.Hardswish());
    }

    public static void Erf(NodeContext context)
    {
        context.Attributes();
        Activation(context, new Elementwise(ElementwiseOperation.Erf));
    }

    public static void Gelu(NodeContext context)
    {
        context.Attributes("approximate");
        string approximate = context.String("approximate", "none");
        Activation(context, approximate switch
        {
            "none" => nn.GELU(),
            "tanh" => nn.GELU(TorchSharp.Modules.GELU.Approximate.tanh, false),
            _ => throw context.Fail($"its approximate '{Errors.Clip(approximate)}' is not 'none' or 'tanh'"),
        });
    }

    public static void Sqrt(NodeContext context) => Simple(context, ElementwiseOperation.Sqrt);

    public static void Exp(NodeContext context) => Simple(context, ElementwiseOperation.Exp);

    public static void Reciprocal(NodeContext context) => Simple(context, ElementwiseOperation.Reciprocal);

    public static void Neg(NodeContext context) => Simple(context, ElementwiseOperation.Negate);

    public static void Abs(NodeContext context) => Simple(context, ElementwiseOperation.Abs);

    private static void Simple(NodeContext context, ElementwiseOperation operation)
    {
        context.Attributes();
        Activation(context, new Elementwise(operation));
    }

    public static void PRelu(NodeContext context)
    {
        context.Attributes();
        Value x = context.Input(0);
        Tensor slope = Helpers.Weight(context, 1, "slope");
        long channels = x.Rank >= 2 ? x.Shape[1] : 1;
        // nn.PReLU holds one slope, or one per channel (dimension 1).
        bool perChannel = x.Rank >= 2 && slope.numel() == channels && channels > 1
            && (slope.dim() == 1 && x.Rank == 2 || slope.dim() == x.Rank - 1 && slope.shape[0] == channels);
        if (slope.numel() == 1 || perChannel)
        {
            var prelu = nn.PReLU(slope.numel(), 0.25, dtype: context.FloatType);
            Helpers.Fill(context, prelu.weight!, slope.reshape(slope.numel()), "slope");
            Activation(context, prelu);
            return;
        }
        Value expanded = ArithmeticOperators.Broadcast(context, x, slope.shape);
        context.Output(0, context.Module(new Elementwise(ElementwiseOperation.PRelu, slope), expanded == x ? null : "prelu", expanded));
    }

    public static void Clip(NodeContext context)
    {
        double? low, high;
        if (context.Version < 11)
        {
            context.Attributes("min", "max");
            low = context.Has("min") ? context.Float("min", 0) : null;
            high = context.Has("max") ? context.Float("max", 0) : null;
        }
        else
        {
            context.Attributes();
            low = context.Optional(1) is null ? null : context.ConstantScalar(1, "minimum");
            high = context.Optional(2) is null ? null : context.ConstantScalar(2, "maximum");
        }
        // float32's extremes are ONNX's "no bound".
        if (low is { } l && l <= -float.MaxValue)
        {
            low = null;
        }
        if (high is { } h && h >= float.MaxValue)
        {
            high = null;
        }
        nn.Module<Tensor, Tensor> module = (low, high) switch
        {
            (0.0, 6.0) => nn.ReLU6(),
            (0.0, null) => nn.ReLU(),
            _ => new Elementwise(ElementwiseOperation.Clip, alpha: low, beta: high),
        };
        Activation(context, module);
    }

    public static void Softmax(NodeContext context) => SoftmaxLike(context, dim => nn.Softmax(dim));

    public static void LogSoftmax(NodeContext context) => SoftmaxLike(context, dim => nn.LogSoftmax(dim));

    /// <summary>
    /// Before opset 13 a softmax coerces its input to a matrix (the dimensions before <c>axis</c> are rows, the rest
    /// columns) and normalizes rows; from 13 on it normalizes along <c>axis</c> alone. The two agree when <c>axis</c> is
    /// the last dimension; otherwise the old form becomes flatten, softmax over dimension 1, reshape back.
    /// </summary>
    private static void SoftmaxLike(NodeContext context, Func<long, nn.Module<Tensor, Tensor>> create)
    {
        context.Attributes("axis");
        Value x = context.Input(0);
        if (x.Rank == 0)
        {
            throw context.Fail("its input is a scalar");
        }
        long axis = Helpers.Axis(context, context.Int("axis", context.Version >= 13 ? -1 : 1), x.Rank);
        if (context.Version >= 13 || axis == x.Rank - 1)
        {
            Activation(context, create(axis));
            return;
        }
        if (x.IsConstant)
        {
            context.Output(0, context.Fold(xs =>
            {
                long[] shape = xs[0].shape;
                return create(1).forward(xs[0].reshape(shape.Take((int)axis).Aggregate(1L, (a, b) => a * b), -1)).reshape(shape);
            }, x));
            return;
        }
        Value flat = context.Module(new Modules.Flatten(axis), "flatten", x);
        Value normalized = context.Module(create(1), null, flat);
        context.Output(0, context.Module(ShapeOperators.ReshapeTo(context, x), "reshape", normalized));
    }

    /// <summary>A one-input module for output 0, or a folded constant when the input is one.</summary>
    private static void Activation(NodeContext context, nn.Module<Tensor, Tensor> module) =>
        context.Output(0, context.Module(module, null, context.Input(0)));
}
