using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.IO;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// <c>{name: {dtype, shape, data_offsets}}</c> (plus optional <c>__metadata__</c>), then the raw little-endian data.
/// </summary>
public static class SafeTensors
{
    /// <summary>Reads every tensor of a file, in header order.</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Safetensors file not found: {path}", path);
        }
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Reads every tensor from the bytes of a safetensors file.</summary>
    public static Dictionary<string, Tensor> Read(byte[] bytes, string source = "input")
    {
        if (bytes.Length < 8)
        {
            throw new InvalidDataException($"{source} is not a safetensors file: it has only {bytes.Length} bytes.");
        }
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8))
        {
            throw new InvalidDataException($"{source} is not a safetensors file (or is truncated): its header claims {headerLength} bytes.");
        }
        int dataStart = 8 + (int)headerLength;
        JsonDocument header;
        try
        {
            header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source} has an unreadable safetensors header: {ex.Message}", ex);
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (header)
        {
            foreach (JsonProperty entry in header.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    continue;
                }
                string dtype = entry.Value.GetProperty("dtype").GetString() ?? "";
                long[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || dataStart + offsets[1] > bytes.Length)
                {
                    throw new InvalidDataException($"{source}: tensor '{entry.Name}' lies outside the file (truncated?).");
                }
                ReadOnlySpan<byte> data = bytes.AsSpan(dataStart + (int)offsets[0], (int)(offsets[1] - offsets[0]));
                result[entry.Name] = Decode(entry.Name, dtype, shape, data, source).DetachFromDisposeScope();
            }
        }
        return result;
    }

    /// <summary>Writes tensors (moved to the CPU, made contiguous) to a file; the file appears only when complete.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        AtomicFile.Write(path, Encode(tensors, metadata));

    /// <summary>The bytes of a safetensors file holding <paramref name="tensors"/> (and <paramref name="metadata"/>, if any).</summary>
    public static byte[] Encode(IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var items = tensors.ToList();
        var header = new Dictionary<string, object>();
        if (metadata is not null && metadata.Count > 0)
        {
            header["__metadata__"] = metadata;
        }
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, tensor) in items)
        {
            using var scope = NewDisposeScope();
            Tensor cpu = tensor.detach().cpu().contiguous();
            byte[] blob = Encode(cpu, out string dtype);
            header[name] = new Dictionary<string, object>
            {
                ["dtype"] = dtype,
                ["shape"] = cpu.shape,
                ["data_offsets"] = new[] { offset, offset + blob.Length },
            };
            offset += blob.Length;
            blobs.Add(blob);
        }
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padding = (8 - json.Length % 8) % 8;
        using var stream = new MemoryStream();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(json.Length + padding));
        stream.Write(length);
        stream.Write(json);
        for (int i = 0; i < padding; i++)
        {
            stream.WriteByte((byte)' ');
        }
        foreach (byte[] blob in blobs)
        {
            stream.Write(blob);
        }
        return stream.ToArray();
    }

    private static Tensor Decode(string name, string dtype, long[] shape, ReadOnlySpan<byte> data, string source)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        int size = dtype switch
        {
            "F64" or "I64" or "U64" => 8,
            "F32" or "I32" or "U32" => 4,
            "F16" or "BF16" or "I16" or "U16" => 2,
            "I8" or "U8" or "BOOL" => 1,
            _ => throw new InvalidDataException($"{source}: tensor '{name}' has the unsupported dtype '{dtype}'."),
        };
        if (count * size != data.Length)
        {
            throw new InvalidDataException($"{source}: tensor '{name}' of shape [{string.Join(", ", shape)}] and dtype {dtype} needs {count * size} bytes but has {data.Length}.");
        }
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Reading safetensors needs a little-endian machine.");
        }
        return dtype switch
        {
            "F64" => tensor(MemoryMarshal.Cast<byte, double>(data).ToArray(), shape, ScalarType.Float64),
            "F32" => tensor(MemoryMarshal.Cast<byte, float>(data).ToArray(), shape, ScalarType.Float32),
            "I64" => tensor(MemoryMarshal.Cast<byte, long>(data).ToArray(), shape, ScalarType.Int64),
            "I32" => tensor(MemoryMarshal.Cast<byte, int>(data).ToArray(), shape, ScalarType.Int32),
            "I16" => tensor(MemoryMarshal.Cast<byte, short>(data).ToArray(), shape, ScalarType.Int16),
            "U8" => tensor(data.ToArray(), shape, ScalarType.Byte),
            "I8" => tensor(MemoryMarshal.Cast<byte, sbyte>(data).ToArray(), shape, ScalarType.Int8),
            "BOOL" => tensor(data.ToArray().Select(b => b != 0).ToArray(), shape, ScalarType.Bool),
            "F16" => tensor(MemoryMarshal.Cast<byte, Half>(data).ToArray().Select(h => (float)h).ToArray(), shape, ScalarType.Float32).to(ScalarType.Float16),
            "BF16" => tensor(MemoryMarshal.Cast<byte, ushort>(data).ToArray().Select(b => BitConverter.Int32BitsToSingle(b << 16)).ToArray(), shape, ScalarType.Float32).to(ScalarType.BFloat16),
            _ => throw new InvalidDataException($"{source}: tensor '{name}' has the unsupported dtype '{dtype}'."),
        };
    }

    private static byte[] Encode(Tensor cpu, out string dtype)
    {
        switch (cpu.dtype)
        {
            case ScalarType.Float64:
                dtype = "F64";
                return MemoryMarshal.AsBytes(cpu.data<double>().ToArray().AsSpan()).ToArray();
            case ScalarType.Float32:
                dtype = "F32";
                return MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()).ToArray();
            case ScalarType.Int64:
                dtype = "I64";
                return MemoryMarshal.AsBytes(cpu.data<long>().ToArray().AsSpan()).ToArray();
            case ScalarType.Int32:
                dtype = "I32";
                return MemoryMarshal.AsBytes(cpu.data<int>().ToArray().AsSpan()).ToArray();
            case ScalarType.Byte:
                dtype = "U8";
                return cpu.data<byte>().ToArray();
            case ScalarType.Bool:
                dtype = "BOOL";
                return cpu.data<bool>().ToArray().Select(b => b ? (byte)1 : (byte)0).ToArray();
            default:
                throw new NotSupportedException($"Writing tensors of type {cpu.dtype} to safetensors is not supported.");
        }
    }
}
