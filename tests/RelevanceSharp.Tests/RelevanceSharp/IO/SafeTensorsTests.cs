using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using RelevanceSharp.IO;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.IO;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("relevancesharp-io-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>A safetensors file built byte by byte: header length, JSON header, little-endian data.</summary>
    private static byte[] HandMade(string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }

    [Fact]
    public void ReadsAHandMadeFile()
    {
        var data = new byte[16 + 8 + 12];
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(0), 1.5);
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(8), -0.25);
        BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(16), 42);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(24), 3.0f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(28), -1.0f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(32), 0.5f);
        string header = """
            {"__metadata__":{"format":"pt"},
             "a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},
             "count":{"dtype":"I64","shape":[],"data_offsets":[16,24]},
             "b":{"dtype":"F32","shape":[1,3],"data_offsets":[24,36]}}
            """;
        Dictionary<string, Tensor> tensors = SafeTensors.Read(HandMade(header, data));
        Assert.Equal(new[] { "a", "count", "b" }, tensors.Keys);
        Assert.Equal(new[] { 1.5, -0.25 }, tensors["a"].data<double>().ToArray());
        Assert.Equal(ScalarType.Int64, tensors["count"].dtype);
        Assert.Empty(tensors["count"].shape);
        Assert.Equal(42L, tensors["count"].item<long>());
        Assert.Equal(new long[] { 1, 3 }, tensors["b"].shape);
        Assert.Equal(new[] { 3.0f, -1.0f, 0.5f }, tensors["b"].data<float>().ToArray());
        foreach (Tensor t in tensors.Values)
        {
            t.Dispose();
        }
    }

    [Fact]
    public void SavedFilesHaveTheDocumentedLayoutAndRoundTrip()
    {
        using var scope = NewDisposeScope();
        string path = Path.Combine(directory, "round.safetensors");
        double[] doubles = { Math.PI, -0.0, double.Epsilon, 1e300 };
        SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["x"] = T(doubles, 2, 2),
            ["n"] = tensor(new long[] { -3, 7 }),
            ["f"] = tensor(new[] { 0.1f }),
        });
        byte[] bytes = File.ReadAllBytes(path);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using JsonDocument header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        JsonElement x = header.RootElement.GetProperty("x");
        Assert.Equal("F64", x.GetProperty("dtype").GetString());
        Assert.Equal(new long[] { 2, 2 }, x.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        long[] offsets = x.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        int start = 8 + (int)headerLength + (int)offsets[0];
        Assert.Equal(BitConverter.DoubleToInt64Bits(Math.PI), BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(start)));

        Dictionary<string, Tensor> loaded = SafeTensors.Load(path);
        Assert.Equal(doubles.Select(BitConverter.DoubleToInt64Bits), loaded["x"].data<double>().ToArray().Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(new long[] { -3, 7 }, loaded["n"].data<long>().ToArray());
        Assert.Equal(0.1f, loaded["f"].data<float>()[0]);
        foreach (Tensor t in loaded.Values)
        {
            t.Dispose();
        }
    }

    [Fact]
    public void ATruncatedFileIsReportedWithTheTensorName()
    {
        var data = new byte[16];
        byte[] bytes = HandMade("""{"weight":{"dtype":"F64","shape":[4],"data_offsets":[0,32]}}""", data);
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes, "w.safetensors"));
        Assert.Contains("'weight'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFileThatIsNotSafetensorsIsReported()
    {
        string path = Path.Combine(directory, "not.safetensors");
        File.WriteAllText(path, "PK this is a zip file, not safetensors");
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => SafeTensors.Load(Path.Combine(directory, "missing.safetensors")));
    }

    [Fact]
    public void ReadingOneTensorAtATimeGivesWhatLoadGives()
    {
        string path = Path.Combine(directory, "many.safetensors");
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["b"] = T(Values(12, 1), 3, 4),
            ["a"] = tensor(new long[] { 7, -3 }),
            ["c"] = T(Values(5, 2)).to(ScalarType.Float32),
        };
        SafeTensors.Save(path, tensors);
        Dictionary<string, Tensor> loaded = SafeTensors.Load(path);
        var streamed = new List<(string Name, Tensor Value)>();
        SafeTensors.ReadEach(path, (name, value) => streamed.Add((name, value)));
        Assert.Equal(loaded.Keys, streamed.Select(s => s.Name));
        foreach (var (name, value) in streamed)
        {
            Assert.Equal(loaded[name].dtype, value.dtype);
            Assert.Equal(loaded[name].shape, value.shape);
            Assert.True(loaded[name].eq(value).all().item<bool>(), name);
            value.Dispose();
        }
    }

    [Fact]
    public void ReadingOneTensorAtATimeChecksTheHeaderAgainstTheFileFirst()
    {
        string path = Path.Combine(directory, "short.safetensors");
        File.WriteAllBytes(path, HandMade("""{"ok":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"weight":{"dtype":"F64","shape":[4],"data_offsets":[8,40]}}""", new byte[16]));
        int visited = 0;
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.ReadEach(path, (_, value) =>
        {
            visited++;
            value.Dispose();
        }));
        Assert.Contains("'weight'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        // Nothing is handed out from a file whose header does not fit it.
        Assert.Equal(0, visited);
        File.WriteAllBytes(path, new byte[] { 255, 255, 255, 255, 0, 0, 0, 0, 1, 2 });
        Assert.Contains("header length", Assert.Throws<InvalidDataException>(() => SafeTensors.ReadEach(path, (_, v) => v.Dispose())).Message,
            StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => SafeTensors.ReadEach(Path.Combine(directory, "missing.safetensors"), (_, v) => v.Dispose()));
    }
}
