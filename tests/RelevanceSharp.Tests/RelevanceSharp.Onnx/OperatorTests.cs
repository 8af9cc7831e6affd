using RelevanceSharp.Onnx;
using static RelevanceSharp.Tests.Onnx.GraphMaker;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>
/// Each supported operator and attribute variant as a graph of one or a few nodes, imported and compared with ONNX
/// Runtime running the same bytes on the same input.
/// </summary>
public sealed class OperatorTests
{
    /// <summary>One graph: its operator set, the input's shape (a string dimension is left open) and how to build it.</summary>
    internal sealed record Case(string Name, int Opset, object[] Shape, Func<GraphMaker, string, string> Build)
    {
        public override string ToString() => Name;
    }

    private static readonly object[] Image = [2, 4, 7, 9];

    private static IEnumerable<Case> All()
    {
        // Convolutions.
        yield return new("Conv symmetric pads, bias", 13, Image, (g, x) => g.Node("Conv", [x, g.Floats([6, 4, 3, 3]), g.Floats([6])], Ints("pads", 1, 1, 1, 1)));
        yield return new("Conv asymmetric pads, stride 2", 13, Image, (g, x) => g.Node("Conv", [x, g.Floats([5, 4, 3, 2])], Ints("pads", 0, 1, 2, 0), Ints("strides", 2, 2)));
        yield return new("Conv SAME_UPPER stride 2", 11, Image, (g, x) => g.Node("Conv", [x, g.Floats([3, 4, 3, 3])], String("auto_pad", "SAME_UPPER"), Ints("strides", 2, 2)));
        yield return new("Conv SAME_LOWER stride 2", 11, Image, (g, x) => g.Node("Conv", [x, g.Floats([3, 4, 4, 4])], String("auto_pad", "SAME_LOWER"), Ints("strides", 2, 2)));
        yield return new("Conv VALID dilated", 9, Image, (g, x) => g.Node("Conv", [x, g.Floats([3, 4, 2, 3])], String("auto_pad", "VALID"), Ints("dilations", 2, 2)));
        yield return new("Conv depthwise", 13, Image, (g, x) => g.Node("Conv", [x, g.Floats([8, 1, 3, 3]), g.Floats([8])], Int("group", 4), Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1)));
        yield return new("Conv 1d", 13, [2, 3, 11], (g, x) => g.Node("Conv", [x, g.Floats([4, 3, 3])], Ints("pads", 2, 1), Ints("strides", 2)));
        yield return new("Conv 3d", 13, [1, 2, 4, 5, 6], (g, x) => g.Node("Conv", [x, g.Floats([3, 2, 2, 3, 2]), g.Floats([3])], Ints("pads", 1, 0, 1, 1, 1, 0)));
        yield return new("ConvTranspose stride 2", 13, Image, (g, x) => g.Node("ConvTranspose", [x, g.Floats([4, 3, 3, 3]), g.Floats([3])], Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1)));
        yield return new("ConvTranspose asymmetric pads, output padding", 13, Image,
            (g, x) => g.Node("ConvTranspose", [x, g.Floats([4, 2, 3, 3])], Ints("strides", 2, 2), Ints("pads", 0, 1, 1, 0), Ints("output_padding", 1, 1)));
        yield return new("ConvTranspose output_shape", 13, Image,
            (g, x) => g.Node("ConvTranspose", [x, g.Floats([4, 2, 3, 3])], Ints("strides", 2, 2), Ints("output_shape", 13, 17)));
        yield return new("ConvTranspose SAME_UPPER, groups", 13, Image,
            (g, x) => g.Node("ConvTranspose", [x, g.Floats([4, 1, 3, 3])], Ints("strides", 2, 2), String("auto_pad", "SAME_UPPER"), Int("group", 2)));

        // Dense layers.
        yield return new("Gemm transB bias", 13, [3, 6], (g, x) => g.Node("Gemm", [x, g.Floats([4, 6]), g.Floats([4])], Int("transB", 1)));
        yield return new("Gemm alpha beta, C row", 9, [3, 6], (g, x) => g.Node("Gemm", [x, g.Floats([6, 4]), g.Floats([1, 4])], Float("alpha", 0.5), Float("beta", 2.0)));
        yield return new("Gemm transA, C scalar", 13, [6, 3], (g, x) => g.Node("Gemm", [x, g.Floats([6, 4]), g.Scalar(0.3)], Int("transA", 1)));
        yield return new("Gemm without C", 13, [3, 6], (g, x) => g.Node("Gemm", [x, g.Floats([4, 6])], Int("transB", 1)));
        yield return new("Gemm full C", 13, [3, 6], (g, x) => g.Node("Gemm", [x, g.Floats([6, 4]), g.Floats([3, 4])]));
        yield return new("MatMul weight and bias", 13, [2, 3, 6], (g, x) => g.Node("Add", [g.Node("MatMul", [x, g.Floats([6, 5])]), g.Floats([5])]));
        yield return new("MatMul bias read by later nodes", 13, [2, 3, 6], (g, x) => g.Node("Div", [g.Node("Add", [g.Node("MatMul", [x, g.Floats([6, 5])]), g.Floats([5])]), g.Scalar(1.5)]));
        yield return new("Identity read by later nodes", 13, Image, (g, x) =>
        {
            string y = g.Node("Identity", [g.Node("Relu", [x])]);
            return g.Node("Add", [g.Node("Sigmoid", [y]), g.Node("Tanh", [y])]);
        });
        yield return new("MatMul of two computed", 13, [2, 3, 6], (g, x) => g.Node("MatMul", [x, g.Node("Transpose", [x], Ints("perm", 0, 2, 1))]));

        // Pools.
        yield return new("MaxPool ceil mode", 11, Image, (g, x) => g.Node("MaxPool", [x], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Int("ceil_mode", 1)));
        yield return new("MaxPool dilated, padded", 12, Image, (g, x) => g.Node("MaxPool", [x], Ints("kernel_shape", 2, 3), Ints("dilations", 2, 1), Ints("pads", 1, 1, 1, 1)));
        yield return new("MaxPool asymmetric pads", 8, Image, (g, x) => g.Node("MaxPool", [x], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 0, 1, 2, 1), Int("storage_order", 0)));
        yield return new("MaxPool SAME_UPPER", 11, Image, (g, x) => g.Node("MaxPool", [x], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), String("auto_pad", "SAME_UPPER")));
        yield return new("AveragePool count_include_pad", 11, Image, (g, x) => g.Node("AveragePool", [x], Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1), Int("count_include_pad", 1)));
        yield return new("AveragePool excluding pad, ceil", 11, Image, (g, x) => g.Node("AveragePool", [x], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1), Int("ceil_mode", 1)));
        yield return new("AveragePool asymmetric pads including pad", 11, Image, (g, x) => g.Node("AveragePool", [x], Ints("kernel_shape", 2, 3), Ints("strides", 2, 1), Ints("pads", 0, 2, 1, 1), Int("count_include_pad", 1)));
        yield return new("AveragePool asymmetric pads excluding pad, ceil", 11, Image, (g, x) => g.Node("AveragePool", [x], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 0, 1, 2), Int("ceil_mode", 1)));
        yield return new("AveragePool SAME_LOWER", 7, Image, (g, x) => g.Node("AveragePool", [x], Ints("kernel_shape", 2, 2), String("auto_pad", "SAME_LOWER")));
        yield return new("AveragePool 1d", 13, [2, 3, 10], (g, x) => g.Node("AveragePool", [x], Ints("kernel_shape", 3), Ints("strides", 2), Ints("pads", 1, 1)));
        yield return new("GlobalAveragePool", 13, Image, (g, x) => g.Node("GlobalAveragePool", [x]));
        yield return new("GlobalMaxPool", 13, Image, (g, x) => g.Node("GlobalMaxPool", [x]));
        yield return new("ReduceMean spatial", 13, Image, (g, x) => g.Node("ReduceMean", [x], Ints("axes", 2, 3)));
        yield return new("ReduceMean spatial, no keepdims", 13, Image, (g, x) => g.Node("ReduceMean", [x], Ints("axes", -1, -2), Int("keepdims", 0)));
        yield return new("ReduceMean axes input", 18, Image, (g, x) => g.Node("ReduceMean", [x, g.Ints(1)], Int("keepdims", 0)));
        yield return new("ReduceSum axes input", 13, Image, (g, x) => g.Node("ReduceSum", [x, g.Ints(1, 3)]));
        yield return new("ReduceSum all", 11, Image, (g, x) => g.Node("ReduceSum", [x], Int("keepdims", 0)));
        yield return new("ReduceMax", 13, Image, (g, x) => g.Node("ReduceMax", [x], Ints("axes", 1), Int("keepdims", 0)));
        yield return new("ReduceMax axes input", 18, Image, (g, x) => g.Node("ReduceMax", [x, g.Ints(-1)]));

        // Normalizations.
        yield return new("BatchNormalization 7 spatial", 7, Image, (g, x) => g.Node("BatchNormalization", [x, g.Floats([4]), g.Floats([4]), g.Floats([4]), Positive(g, [4])], Int("spatial", 1), Float("epsilon", 1e-3)));
        yield return new("BatchNormalization 9 on (N, C)", 9, [3, 5], (g, x) => g.Node("BatchNormalization", [x, g.Floats([5]), g.Floats([5]), g.Floats([5]), Positive(g, [5])]));
        yield return new("BatchNormalization 15", 15, Image, (g, x) => g.Node("BatchNormalization", [x, g.Floats([4]), g.Floats([4]), g.Floats([4]), Positive(g, [4])], Int("training_mode", 0)));
        yield return new("InstanceNormalization", 13, Image, (g, x) => g.Node("InstanceNormalization", [x, g.Floats([4]), g.Floats([4])], Float("epsilon", 1e-4)));
        yield return new("LayerNormalization last axis", 17, Image, (g, x) => g.Node("LayerNormalization", [x, g.Floats([9]), g.Floats([9])]));
        yield return new("LayerNormalization axis 1, broadcast scale", 17, Image, (g, x) => g.Node("LayerNormalization", [x, g.Floats([1, 1, 9])], Int("axis", 1), Float("epsilon", 1e-3)));

        // Activations.
        yield return new("Relu", 14, Image, (g, x) => g.Node("Relu", [x]));
        yield return new("LeakyRelu", 16, Image, (g, x) => g.Node("LeakyRelu", [x], Float("alpha", 0.2)));
        yield return new("PRelu per channel", 16, Image, (g, x) => g.Node("PRelu", [x, g.Floats([4, 1, 1])]));
        yield return new("PRelu single slope", 9, Image, (g, x) => g.Node("PRelu", [x, g.Floats([1])]));
        yield return new("PRelu per column", 16, Image, (g, x) => g.Node("PRelu", [x, g.Floats([9])]));
        yield return new("Sigmoid", 13, Image, (g, x) => g.Node("Sigmoid", [x]));
        yield return new("Tanh", 13, Image, (g, x) => g.Node("Tanh", [x]));
        yield return new("HardSigmoid default", 7, Image, (g, x) => g.Node("HardSigmoid", [x]));
        yield return new("HardSigmoid PyTorch's", 13, Image, (g, x) => g.Node("HardSigmoid", [x], Float("alpha", 1.0 / 6), Float("beta", 0.5)));
        yield return new("HardSwish", 14, Image, (g, x) => g.Node("HardSwish", [x]));
        yield return new("Clip attributes (ReLU6)", 9, Image, (g, x) => g.Node("Clip", [x], Float("min", 0), Float("max", 6)));
        yield return new("Clip attributes, lower only", 9, Image, (g, x) => g.Node("Clip", [x], Float("min", -0.3)));
        yield return new("Clip inputs", 13, Image, (g, x) => g.Node("Clip", [x, g.Scalar(-0.5), g.Scalar(0.4)]));
        yield return new("Clip inputs, upper only", 13, Image, (g, x) => g.Node("Clip", [x, "", g.Scalar(0.4)]));
        yield return new("Erf", 13, Image, (g, x) => g.Node("Erf", [x]));
        yield return new("Gelu", 20, Image, (g, x) => g.Node("Gelu", [x]));
        yield return new("Gelu tanh", 20, Image, (g, x) => g.Node("Gelu", [x], String("approximate", "tanh")));
        yield return new("Softmax 11 coerced", 11, Image, (g, x) => g.Node("Softmax", [x], Int("axis", 1)));
        yield return new("Softmax 11 coerced, open batch", 11, ["N", 4, 7, 9], (g, x) => g.Node("Softmax", [x], Int("axis", 2)));
        yield return new("Softmax 13 single axis", 13, Image, (g, x) => g.Node("Softmax", [x], Int("axis", 1)));
        yield return new("LogSoftmax 11 default", 11, [3, 7], (g, x) => g.Node("LogSoftmax", [x]));
        yield return new("Sqrt Exp Reciprocal Neg Abs", 13, Image,
            (g, x) => g.Node("Neg", [g.Node("Reciprocal", [g.Node("Exp", [g.Node("Sqrt", [g.Node("Abs", [x])])])])]));
        yield return new("Pow constant exponent", 15, Image, (g, x) => g.Node("Pow", [x, g.Scalar(2.0)]));

        // Arithmetic.
        yield return new("Sub and Div constants (normalization)", 13, Image, (g, x) => g.Node("Div", [g.Node("Sub", [x, g.Floats([1, 4, 1, 1])]), Positive(g, [1, 4, 1, 1])]));
        yield return new("Constant first operands", 13, Image, (g, x) => g.Node("Div", [g.Scalar(2.0), g.Node("Add", [g.Scalar(3.0), g.Node("Sub", [g.Floats([9]), g.Node("Mul", [g.Scalar(0.5), x])])])]));
        yield return new("Constant broadcasts the input", 13, [2, 1, 7, 1], (g, x) => g.Node("Mul", [x, g.Floats([1, 4, 1, 9])]));
        yield return new("Add Sub Mul Div computed", 13, Image,
            (g, x) => g.Node("Div", [g.Node("Mul", [g.Node("Sub", [x, g.Node("Sigmoid", [x])]), g.Node("Add", [x, g.Node("Tanh", [x])])]), g.Node("Add", [g.Node("Abs", [x]), g.Scalar(1.0)])]));
        yield return new("Mul gate broadcast (squeeze-and-excitation)", 13, Image, (g, x) => g.Node("Mul", [x, g.Node("Sigmoid", [g.Node("GlobalAveragePool", [x])])]));
        yield return new("Sum of three and a constant", 8, Image, (g, x) => g.Node("Sum", [x, g.Node("Relu", [x]), g.Floats([9]), g.Node("Tanh", [x])]));

        // Moving data.
        yield return new("Flatten axis 2", 13, Image, (g, x) => g.Node("Flatten", [x], Int("axis", 2)));
        yield return new("Flatten axis -1", 11, Image, (g, x) => g.Node("Flatten", [x], Int("axis", -1)));
        yield return new("Flatten axis 0", 9, Image, (g, x) => g.Node("Flatten", [x], Int("axis", 0)));
        yield return new("Reshape 0 and -1", 13, Image, (g, x) => g.Node("Reshape", [x, g.Ints(0, -1, 3)]));
        yield return new("Reshape open batch", 13, ["N", 4, 7, 9], (g, x) => g.Node("Reshape", [x, g.Ints(0, 28, -1)]));
        yield return new("Transpose", 13, Image, (g, x) => g.Node("Transpose", [x], Ints("perm", 0, 2, 3, 1)));
        yield return new("Transpose reversed", 13, Image, (g, x) => g.Node("Transpose", [x]));
        yield return new("Squeeze Unsqueeze attributes", 11, [2, 1, 7, 1], (g, x) => g.Node("Unsqueeze", [g.Node("Squeeze", [x], Ints("axes", 1, -1))], Ints("axes", 0, -1)));
        yield return new("Squeeze Unsqueeze inputs", 13, [2, 1, 7, 1], (g, x) => g.Node("Unsqueeze", [g.Node("Squeeze", [x]), g.Ints(2)]));
        yield return new("Concat with a constant", 13, Image, (g, x) => g.Node("Concat", [g.Floats([2, 1, 7, 9]), x, g.Node("Relu", [x])], Int("axis", 1)));
        yield return new("Concat negative axis", 11, Image, (g, x) => g.Node("Concat", [x, x], Int("axis", -1)));
        yield return new("Split attribute", 11, Image, (g, x) => Rejoin(g, g.NodeWithOutputs("Split", [x], 2, Int("axis", 1), Ints("split", 1, 3)), 1));
        yield return new("Split input", 13, Image, (g, x) => Rejoin(g, g.NodeWithOutputs("Split", [x, g.Ints(4, 5)], 2, Int("axis", -1)), 3));
        yield return new("Split num_outputs uneven", 18, Image, (g, x) => Rejoin(g, g.NodeWithOutputs("Split", [x], 2, Int("axis", 3), Int("num_outputs", 2)), 3));
        yield return new("Slice attributes", 9, Image, (g, x) => g.Node("Slice", [x], Ints("starts", 1, -5), Ints("ends", 3, 1000), Ints("axes", 1, 3)));
        yield return new("Slice steps", 13, Image, (g, x) => g.Node("Slice", [x, g.Ints(0, 1), g.Ints(long.MaxValue, 6), g.Ints(2, 3), g.Ints(2, 3)]));
        yield return new("Slice negative steps", 13, Image, (g, x) => g.Node("Slice", [x, g.Ints(-1, 5), g.Ints(long.MinValue, 0), g.Ints(3, 2), g.Ints(-2, -1)]));
        yield return new("Pad constant attributes", 9, Image, (g, x) => g.Node("Pad", [x], Ints("pads", 0, 0, 1, 2, 0, 0, 2, 0), Float("value", 0.7)));
        yield return new("Pad reflect", 11, Image, (g, x) => g.Node("Pad", [x, g.Ints(0, 0, 2, 1, 0, 0, 1, 3)], String("mode", "reflect")));
        yield return new("Pad edge with crop", 13, Image, (g, x) => g.Node("Pad", [x, g.Ints(0, 0, 2, 1, 0, 0, 1, 3)], String("mode", "edge")));
        yield return new("Pad constant negative", 13, Image, (g, x) => g.Node("Pad", [x, g.Ints(0, 1, -1, 2, 0, 0, 1, -3), g.Scalar(-1)]));
        yield return new("Pad axes", 18, Image, (g, x) => g.Node("Pad", [x, g.Ints(1, 2, 3, 0), g.Scalar(0.5), g.Ints(3, 1)]));
        yield return new("Pad wrap", 19, Image, (g, x) => g.Node("Pad", [x, g.Ints(0, 0, 2, 1, 0, 0, 1, 3)], String("mode", "wrap")));
        yield return new("Gather constant indices", 13, Image, (g, x) => g.Node("Gather", [x, g.IntsShaped([2, 2], [0, -1, 2, 1])], Int("axis", 1)));
        yield return new("Gather scalar index", 13, Image, (g, x) => g.Node("Gather", [x, g.IntsShaped([], [3])], Int("axis", -1)));
        yield return new("Expand", 13, [2, 1, 7, 1], (g, x) => g.Node("Expand", [x, g.Ints(3, 1, 9)]));
        yield return new("Identity and Dropout", 13, Image, (g, x) => g.Node("Dropout", [g.Node("Identity", [x]), g.Scalar(0.5)]));
        yield return new("Dropout 7", 7, Image, (g, x) => g.Node("Dropout", [x], Float("ratio", 0.3)));

        // Shape computations folded at load time.
        yield return new("Shape chain, open batch", 13, ["N", 4, 7, 9], (g, x) =>
        {
            string shape = g.Node("Shape", [x]);
            string batch = g.Node("Unsqueeze", [g.Node("Gather", [shape, g.IntsShaped([], [0])], Int("axis", 0)), g.Ints(0)]);
            return g.Node("Reshape", [x, g.Node("Concat", [batch, g.Ints(-1)], Int("axis", 0))]);
        });
        yield return new("Shape start end, Cast, arithmetic", 15, ["N", 4, 7, 9], (g, x) =>
        {
            string spatial = g.Node("Shape", [x], Int("start", 2));
            string product = g.Node("Cast", [g.Node("Mul", [g.Node("Slice", [spatial, g.Ints(0), g.Ints(1)]), g.Node("Slice", [spatial, g.Ints(1), g.Ints(2)])])], Int("to", 7));
            string batch = g.Node("Slice", [g.Node("Shape", [x], Int("end", 1)), g.Ints(0), g.Ints(1)]);
            return g.Node("Reshape", [x, g.Node("Concat", [batch, g.Ints(4), product], Int("axis", 0))]);
        });
        yield return new("ConstantOfShape, Range, Equal, Where", 13, Image, (g, x) =>
        {
            string ones = g.Node("ConstantOfShape", [g.Ints(9)], Tensor("value", FloatTensor("one", [1], [1.5])));
            string range = g.Node("Cast", [g.Node("Range", [g.IntsShaped([], [0]), g.IntsShaped([], [9]), g.IntsShaped([], [1])])], Int("to", 1));
            string mask = g.Node("Equal", [g.Node("Range", [g.IntsShaped([], [0]), g.IntsShaped([], [9]), g.IntsShaped([], [1])]), g.IntsShaped([], [4])]);
            return g.Node("Add", [x, g.Node("Where", [mask, ones, range])]);
        });
        yield return new("Constant node", 13, Image, (g, x) => g.Node("Mul", [x, g.Node("Constant", [], Tensor("value", FloatTensor("c", [9], Support.Values(9, 5))))]));
        yield return new("Constant value_floats", 13, Image, (g, x) => g.Node("Add", [x, g.Node("Constant", [], Floats("value_floats", 1, 2, 3, 4, 5, 6, 7, 8, 9))]));
    }

    private static string Positive(GraphMaker g, long[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        return g.Floats(shape, Support.Values((int)count, 99).Select(v => 0.5 + Math.Abs(v)).ToArray());
    }

    private static string Rejoin(GraphMaker g, string[] parts, long axis) =>
        g.Node("Concat", [g.Node("Relu", [parts[0]]), g.Node("Neg", [parts[1]])], Int("axis", axis));

    public static TheoryData<string> Cases() => new(All().Select(c => c.Name));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(string name)
    {
        Case c = All().Single(c => c.Name == name);
        using var scope = NewDisposeScope();
        var g = new GraphMaker(c.Opset);
        g.Input("x", c.Shape);
        string output = c.Build(g, "x");
        g.Output(output);
        byte[] bytes = g.Bytes();
        long[] shape = c.Shape.Select(d => d is string ? 3L : Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        Tensor input = tensor(Support.Values((int)count, 3).Select(v => (float)(2 * v)).ToArray(), shape);
        using OnnxModel model = OnnxModel.Load(bytes, c.Name);
        Tensor actual;
        using (no_grad())
        {
            actual = model.forward(input);
        }
        double[] expected = OnnxFiles.RunOnnxRuntime(bytes, input).Select(v => (double)v).ToArray();
        double error = OnnxFiles.RelativeError(expected, Support.D(actual));
        Assert.True(error <= 1e-5, $"{c.Name}: differs from ONNX Runtime by {error:E3} of the largest value.");
    }
}

/// <summary>Graphs that read images channels last, as tf2onnx exports Keras models.</summary>
public sealed class ChannelsLastTests
{
    [Fact]
    public void TheModelTakesChannelsFirstAndMovesThemLast()
    {
        using var scope = NewDisposeScope();
        var g = new GraphMaker(13);
        g.Input("image", "N", 6, 5, 3);
        string nchw = g.Node("Transpose", ["image"], Ints("perm", 0, 3, 1, 2));
        g.Output(g.Node("Relu", [g.Node("Conv", [nchw, g.Floats([4, 3, 3, 3])], Ints("pads", 1, 1, 1, 1))]));
        byte[] bytes = g.Bytes();
        string path = Path.Combine(Path.GetTempPath(), $"relevancesharp-nhwc-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            OnnxInterface found = OnnxModel.ReadInterface(path);
            Assert.Equal(13, found.Opset);
            Assert.Empty(found.BeforeSoftmax);
            Assert.True(OnnxModel.LooksChannelsLast(found.Inputs[0]));
            using OnnxModel model = OnnxModel.Load(path, new OnnxLoadOptions { ChannelsLast = true });
            Assert.Equal(new long[] { 3, 6, 5 }, model.InputShape);
            Assert.Equal("image/channels_last", model.named_children().First().name);
            Tensor x = tensor(Support.Values(2 * 3 * 6 * 5, 4).Select(v => (float)v).ToArray(), [2, 3, 6, 5]);
            Tensor actual;
            using (no_grad())
            {
                actual = model.forward(x);
            }
            double[] expected = OnnxFiles.RunOnnxRuntime(bytes, x.permute(0, 2, 3, 1).contiguous()).Select(v => (double)v).ToArray();
            Assert.True(OnnxFiles.RelativeError(expected, Support.D(actual)) <= 1e-5);
            Assert.False(OnnxModel.LooksChannelsLast(new OnnxValueInfo("x", "float", ["N", "3", "224", "224"])));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
