using RelevanceSharp.Vision.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Models;

public class HashV1Tests
{
    [Fact]
    public void FirstValuesOfAbcAreThoseOfTheConformanceReadme()
    {
        double[] expected = { -0.6727547622645063, -0.4260318651478088, -0.9819274081762459, 0.2595651016050484 };

        Assert.Equal(expected, HashV1.Values("abc", 4));
    }

    [Theory]
    [InlineData("", 0xcbf29ce484222325UL)]
    [InlineData("a", 0xaf63dc4c8601ec8cUL)]
    [InlineData("foobar", 0x85944171f73967e8UL)]
    public void SeedIsFnv1a64(string text, ulong expected)
    {
        Assert.Equal(expected, HashV1.Seed(text));
    }

    [Fact]
    public void SeedHashesUtf8Bytes()
    {
        // "é" is two UTF-8 bytes, C3 A9.
        ulong expected = 0xcbf29ce484222325UL;
        foreach (byte b in new byte[] { 0xC3, 0xA9 })
        {
            expected = unchecked((expected ^ b) * 0x100000001b3UL);
        }

        Assert.Equal(expected, HashV1.Seed("é"));
    }

    [Fact]
    public void FillWritesTheSameValuesAcrossChunksAndIntoOtherLayouts()
    {
        // Over three million elements: several chunks, filled in parallel.
        const int count = 3_300_001;
        double[] expected = HashV1.Values("layer.weight", count);
        using var scope = NewDisposeScope();
        Tensor doubles = empty(count, dtype: ScalarType.Float64);
        Tensor floats = empty(count, dtype: ScalarType.Float32);
        Tensor transposed = empty(new long[] { 5, 4 }, dtype: ScalarType.Float64).t();

        HashV1.Fill(doubles, "layer.weight");
        HashV1.Fill(floats, "layer.weight");
        HashV1.Fill(transposed, "layer.weight");

        Assert.Equal(expected, doubles.data<double>().ToArray());
        Assert.Equal(expected.Select(v => (float)v), floats.data<float>().ToArray());
        // Flattened in the tensor's own (logical) order.
        Assert.Equal(expected.Take(20), transposed.contiguous().data<double>().ToArray());
    }

    [Fact]
    public void StateDictEntriesFollowTheReadmeFormulas()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("0", nn.Conv2d(2, 3, 3)), ("1", nn.BatchNorm2d(3)));
        model.to(ScalarType.Float64);

        HashV1.FillStateDict(model);

        var state = model.state_dict();
        double[] v = HashV1.Values("0.weight", 54);
        // fan_in = 54 / 3 = 18.
        Assert.Equal(v.Select(x => x * Math.Sqrt(6.0 / 18)), state["0.weight"].data<double>().ToArray());
        Assert.Equal(HashV1.Values("0.bias", 3).Select(x => 0.05 * x), state["0.bias"].data<double>().ToArray());
        Assert.Equal(HashV1.Values("1.weight", 3).Select(x => 1 + 0.1 * x), state["1.weight"].data<double>().ToArray());
        Assert.Equal(HashV1.Values("1.running_mean", 3).Select(x => 0.1 * x), state["1.running_mean"].data<double>().ToArray());
        Assert.Equal(HashV1.Values("1.running_var", 3).Select(x => 1 + 0.5 * x * x), state["1.running_var"].data<double>().ToArray());
        Assert.Equal(0L, state["1.num_batches_tracked"].item<long>());
    }

    [Fact]
    public void UnknownEntriesAreRefused()
    {
        using var scope = NewDisposeScope();
        var model = nn.GRU(4, 2);

        var error = Assert.Throws<NotSupportedException>(() => HashV1.FillStateDict(model));
        Assert.Contains("weight_ih_l0", error.Message, StringComparison.Ordinal);
    }
}
