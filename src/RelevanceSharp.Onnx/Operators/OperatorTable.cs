using System.Diagnostics.CodeAnalysis;
using RelevanceSharp.Onnx.Building;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>
/// The supported operators: for each, the operator set versions at which ONNX changed its definition (a model of
/// opset N uses the newest definition at or below N) and the converter, which reads the node as that definition says.
/// </summary>
internal static class OperatorTable
{
    private static readonly Dictionary<string, (int[] Versions, Action<NodeContext> Convert)> Table = new(StringComparer.Ordinal)
    {
        // Layers with weights.
        ["Conv"] = ([1, 11], LayerOperators.Conv),
        ["ConvTranspose"] = ([1, 11], LayerOperators.ConvTranspose),
        ["Gemm"] = ([1, 6, 7, 9, 11, 13], LayerOperators.Gemm),
        ["MatMul"] = ([1, 9, 13], LayerOperators.MatMul),
        ["BatchNormalization"] = ([1, 6, 7, 9, 14, 15], NormalizationOperators.BatchNormalization),
        ["InstanceNormalization"] = ([1, 6], NormalizationOperators.InstanceNormalization),
        ["LayerNormalization"] = ([17], NormalizationOperators.LayerNormalization),

        // Pooling.
        ["MaxPool"] = ([1, 8, 10, 11, 12], PoolingOperators.MaxPool),
        ["AveragePool"] = ([1, 7, 10, 11, 19], PoolingOperators.AveragePool),
        ["GlobalAveragePool"] = ([1], PoolingOperators.GlobalAveragePool),
        ["GlobalMaxPool"] = ([1], PoolingOperators.GlobalMaxPool),
        ["ReduceMean"] = ([1, 11, 13, 18], PoolingOperators.ReduceMean),
        ["ReduceSum"] = ([1, 11, 13], PoolingOperators.ReduceSum),
        ["ReduceMax"] = ([1, 11, 12, 13, 18, 20], PoolingOperators.ReduceMax),

        // Activations and element-wise functions.
        ["Relu"] = ([1, 6, 13, 14], ActivationOperators.Relu),
        ["LeakyRelu"] = ([1, 6, 16], ActivationOperators.LeakyRelu),
        ["PRelu"] = ([1, 6, 7, 9, 16], ActivationOperators.PRelu),
        ["Sigmoid"] = ([1, 6, 13], ActivationOperators.Sigmoid),
        ["Tanh"] = ([1, 6, 13], ActivationOperators.Tanh),
        ["HardSigmoid"] = ([1, 6], ActivationOperators.HardSigmoid),
        ["HardSwish"] = ([14], ActivationOperators.HardSwish),
        ["Clip"] = ([1, 6, 11, 12, 13], ActivationOperators.Clip),
        ["Erf"] = ([9, 13], ActivationOperators.Erf),
        ["Gelu"] = ([20], ActivationOperators.Gelu),
        ["Softmax"] = ([1, 11, 13], ActivationOperators.Softmax),
        ["LogSoftmax"] = ([1, 11, 13], ActivationOperators.LogSoftmax),
        ["Sqrt"] = ([1, 6, 13], ActivationOperators.Sqrt),
        ["Exp"] = ([1, 6, 13], ActivationOperators.Exp),
        ["Reciprocal"] = ([1, 6, 13], ActivationOperators.Reciprocal),
        ["Neg"] = ([1, 6, 13], ActivationOperators.Neg),
        ["Abs"] = ([1, 6, 13], ActivationOperators.Abs),

        // Arithmetic.
        ["Add"] = ([7, 13, 14], ArithmeticOperators.Add),
        ["Sub"] = ([7, 13, 14], ArithmeticOperators.Sub),
        ["Mul"] = ([7, 13, 14], ArithmeticOperators.Mul),
        ["Div"] = ([7, 13, 14], ArithmeticOperators.Div),
        ["Pow"] = ([7, 12, 13, 15], ArithmeticOperators.Pow),
        ["Sum"] = ([6, 8, 13], ArithmeticOperators.Sum),

        // Moving data; shapes.
        ["Flatten"] = ([1, 9, 11, 13, 21], ShapeOperators.Flatten),
        ["Reshape"] = ([5, 13, 14, 19, 21], ShapeOperators.Reshape),
        ["Transpose"] = ([1, 13, 21], ShapeOperators.Transpose),
        ["Squeeze"] = ([1, 11, 13, 21], ShapeOperators.Squeeze),
        ["Unsqueeze"] = ([1, 11, 13, 21], ShapeOperators.Unsqueeze),
        ["Concat"] = ([4, 11, 13], ShapeOperators.Concat),
        ["Split"] = ([2, 11, 13, 18], ShapeOperators.Split),
        ["Slice"] = ([1, 10, 11, 13], ShapeOperators.Slice),
        ["Pad"] = ([2, 11, 13, 18, 19, 21], ShapeOperators.Pad),
        ["Gather"] = ([1, 11, 13], ShapeOperators.Gather),
        ["Expand"] = ([8, 13], ShapeOperators.Expand),
        ["Identity"] = ([1, 13, 14, 16, 19, 21], ShapeOperators.Identity),
        ["Dropout"] = ([7, 10, 12, 13], ShapeOperators.Dropout),

        // Constants and the shape computations exporters emit (folded at load time).
        ["Constant"] = ([1, 9, 11, 12, 13, 19, 21], ConstantOperators.Constant),
        ["ConstantOfShape"] = ([9, 20, 21], ConstantOperators.ConstantOfShape),
        ["Shape"] = ([1, 13, 15, 19, 21], ConstantOperators.Shape),
        ["Cast"] = ([6, 9, 13, 19, 21], ConstantOperators.Cast),
        ["Range"] = ([11], ConstantOperators.Range),
        ["Equal"] = ([7, 11, 13, 19], ConstantOperators.Equal),
        ["Where"] = ([9, 16], ConstantOperators.Where),
        ["Floor"] = ([6, 13], ConstantOperators.Floor),
        ["Ceil"] = ([6, 13], ConstantOperators.Ceil),
        ["Min"] = ([8, 12, 13], ConstantOperators.Min),
        ["Max"] = ([8, 12, 13], ConstantOperators.Max),
    };

    /// <summary>The supported operators, sorted.</summary>
    public static IReadOnlyList<string> Names { get; } = Table.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Whether the importer knows the operator at some version.</summary>
    public static bool IsKnown(string op) => Table.ContainsKey(op);

    /// <summary>The converter and the definition version in force for a model of <paramref name="opset"/>.</summary>
    public static bool TryGet(string op, int opset, out int version, [NotNullWhen(true)] out Action<NodeContext>? convert)
    {
        version = 0;
        convert = null;
        if (!Table.TryGetValue(op, out var entry))
        {
            return false;
        }
        int[] defined = entry.Versions.Where(v => v <= opset).ToArray();
        if (defined.Length == 0)
        {
            return false;
        }
        version = defined.Max();
        convert = entry.Convert;
        return true;
    }
}
