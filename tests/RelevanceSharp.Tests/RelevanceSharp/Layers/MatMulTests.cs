using RelevanceSharp.Core;
using RelevanceSharp.Layers;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Layers;

/// <summary>The product modules compute what torch computes, and refuse shapes matmul would end the process on.</summary>
public class MatMulTests
{
    [Theory]
    [InlineData(new long[] { 3 }, new long[] { 3 }, new long[] { })]
    [InlineData(new long[] { 2, 3 }, new long[] { 3 }, new long[] { 2 })]
    [InlineData(new long[] { 3 }, new long[] { 3, 4 }, new long[] { 4 })]
    [InlineData(new long[] { 5, 1, 2, 3 }, new long[] { 4, 3, 6 }, new long[] { 5, 4, 2, 6 })]
    public void ShapesFollowMatmul(long[] a, long[] b, long[] expected)
    {
        Assert.Equal(expected, TensorShapes.MatMul(a, b, "test"));
        using var scope = NewDisposeScope();
        Assert.Equal(expected, new MatMul().call(ones(a, ScalarType.Float64), ones(b, ScalarType.Float64)).shape);
    }

    [Theory]
    [InlineData(new long[] { 2, 3 }, new long[] { 4, 5 })]
    [InlineData(new long[] { 2, 2, 3 }, new long[] { 3, 3, 4 })]
    [InlineData(new long[] { }, new long[] { 3 })]
    public void MismatchedShapesAreRefusedBeforeLibtorchSeesThem(long[] a, long[] b)
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ArgumentException>(() => new MatMul().call(ones(a, ScalarType.Float64), ones(b, ScalarType.Float64)));
        Assert.Contains("MatMul", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheScaleMultipliesTheProduct()
    {
        using var scope = NewDisposeScope();
        Tensor a = T(Values(6, 1), 2, 3), b = T(Values(6, 2), 3, 2);
        AssertClose(D(a.matmul(b).mul(Scalars.Of(0.25))), new MatMul(0.25).call(a, b));
        AssertClose(D(a * a), new Multiply().call(a, a));
    }

    [Fact]
    public void AGateIsAnInputPosition()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MatMul(gate: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Multiply(gate: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MatMul(double.NaN));
        Assert.Equal(0, new MatMul(gate: 0).Gate);
    }
}
