namespace RelevanceSharp.Tests.Attribution;

/// <summary>
/// A linear model of 4 inputs and 3 classes (<c>Support.Linear(Weight, Bias)</c>) and two input rows, for the path
/// methods' tests: their attribution of a linear model is the input's difference from the baseline times the weight.
/// </summary>
internal static class HandLinear
{
    public static readonly double[,] Weight = { { 0.5, -1.5, 2.0, 0.0 }, { -0.25, 0.75, -1.0, 3.0 }, { 1.0, 1.0, -2.0, 0.5 } };
    public static readonly double[] Bias = { 0.3, -0.7, 0.1 };
    public static readonly double[] Input = { 1.0, -2.0, 0.5, 0.0, 3.0, 0.25, -1.0, 2.0 };
}
