using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

/// <summary>
/// The small layers the rule tests run on: mixed-sign inputs with exact zeros, negative and zero weights, biases of
/// both signs. Each fixture creates fresh modules and tensors.
/// </summary>
internal static class RuleFixtures
{
    // Dense: 5 inputs, 4 outputs. Row 2 computes x0 - x1 without bias, so sample 1 (x0 == x1) has an output of
    // exactly zero there (it tests sign(0) = +1 of the stabilizer and Gamma's "no sign" case).
    public static readonly double[,] DenseWeight =
    {
        { 0.5, -1.0, 0.25, 2.0, -0.75 },
        { -0.3, 0.8, -1.2, 0.0, 0.6 },
        { 1.0, -1.0, 0.0, 0.0, 0.0 },
        { -0.9, -0.4, 1.5, -0.2, 0.1 },
    };

    public static readonly double[] DenseBias = { 0.1, -0.2, 0.0, 0.3 };

    public static readonly double[] DenseInput =
    {
        1.0, -2.0, 0.0, 0.5, -0.25,
        0.7, 0.7, -1.5, 0.0, 2.0,
    };

    public static readonly double[] DenseSeed =
    {
        1.0, -0.5, 0.3, 2.0,
        0.4, 1.2, 0.7, -0.6,
    };

    public const int DenseBatch = 2;

    public static Linear Dense(bool bias = true) => Linear(DenseWeight, bias ? DenseBias : null);

    public static AffineMap DenseMap(bool bias = true) => AffineMap.Dense(DenseWeight, bias ? DenseBias : null);

    public static Tensor DenseX() => T(DenseInput, DenseBatch, 5);

    public static Tensor DenseR() => T(DenseSeed, DenseBatch, 4);

    // Conv2d: input (2, 2, 5, 5), weight (3, 2, 3, 3), padding 1, stride 2, output (2, 3, 3, 3).
    public const int ConvBatch = 2, ConvChannels = 2, ConvSize = 5, ConvStride = 2, ConvPadding = 1;

    public static readonly long[] ConvWeightShape = { 3, 2, 3, 3 };

    public static readonly double[] ConvWeight = Values(54, 11).Select((v, i) => i % 5 == 0 ? 0.0 : v).ToArray();

    public static readonly double[] ConvBias = { 0.1, -0.2, 0.05 };

    public static readonly double[] ConvInput = Values(100, 12).Select((v, i) => i % 7 == 0 ? 0.0 : 2.0 * v).ToArray();

    public static readonly double[] ConvSeed = Values(54, 13);

    public static Conv2d Conv(bool bias = true) =>
        Conv2d(ConvWeight, ConvWeightShape, bias ? ConvBias : null, ConvStride, ConvPadding);

    public static AffineMap ConvMap(bool bias = true) =>
        AffineMap.Conv2d(ConvWeight, ConvWeightShape, bias ? ConvBias : null, ConvSize, ConvSize, ConvStride, ConvPadding);

    public static Tensor ConvX() => T(ConvInput, ConvBatch, ConvChannels, ConvSize, ConvSize);

    public static Tensor ConvR() => T(ConvSeed, ConvBatch, 3, 3, 3);
}
