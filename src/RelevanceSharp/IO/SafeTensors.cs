using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace RelevanceSharp.IO;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// <c>{name: {dtype, shape, data_offsets}}</c> (plus optional <c>__metadata__</c>), then the raw little-endian data.
/// </summary>
public static class SafeTensors
{
    /// <summary>The largest header read, as the format's specification sets it: 100 MB.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private static readonly string[] DataTypes = { "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL" };

    /// <summary>
    /// Reads every tensor of a file, in header order. Only regular files of at most <paramref name="maxBytes"/> are
    /// read; every length, offset and shape in the header is checked against the file before anything is allocated.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file; the message names the file and the problem.</exception>
    public static Dictionary<string, Tensor> Load(string path, long maxBytes = InputFile.DefaultMaxBytes) =>
        Read(InputFile.ReadAll(path, "safetensors file", maxBytes), path);

    /// <summary>Reads every tensor from the bytes of a safetensors file; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid safetensors file.</exception>
    public static Dictionary<string, Tensor> Read(byte[] bytes, string source = "input")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var entries = ReadHeader(bytes, source);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (HeaderEntry entry in entries)
            {
                ReadOnlySpan<byte> data = bytes.AsSpan(checked((int)(entry.DataStart + entry.Begin)), checked((int)(entry.End - entry.Begin)));
                result[entry.Name] = Decode(entry.Name, entry.DataType, entry.Shape, data, source).DetachFromDisposeScope();
            }
        }
        catch
        {
            foreach (Tensor tensor in result.Values)
            {
                tensor.Dispose();
            }
            throw;
        }
        return result;
    }

    /// <summary>
    /// Reads the tensors of a file one at a time, in header order, without holding the file in memory: for checkpoints
    /// larger than one array can hold (2 GiB) or than memory allows twice. The header is read and checked against the
    /// file's length first, as <see cref="Load"/> does; then <paramref name="visit"/> receives each tensor, which it may
    /// keep (it is outside any dispose scope). Only regular files of at most <paramref name="maxBytes"/> are read, and no
    /// single tensor larger than an array.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file, or it changed while it was read.</exception>
    public static void ReadEach(string path, Action<string, Tensor> visit, long maxBytes = InputFile.DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(visit);
        long length = InputFile.Check(path, "safetensors file", maxBytes);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
            var prefix = new byte[8];
            if (length < 8 || stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
            {
                throw Invalid(path, $"it has only {length} bytes, fewer than the 8 of the header length");
            }
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > (ulong)(length - 8))
            {
                throw Invalid(path, $"its header length {headerLength:N0} exceeds the {length - 8:N0} bytes that follow (truncated, or not a safetensors file)");
            }
            if (headerLength > MaxHeaderBytes)
            {
                throw Invalid(path, $"its header of {headerLength:N0} bytes exceeds the format's limit of {MaxHeaderBytes:N0}");
            }
            var header = new byte[headerLength];
            if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
            {
                throw Invalid(path, "it shrank while it was read");
            }
            foreach (HeaderEntry entry in ReadHeader(header, 8 + (long)headerLength, length - 8 - (long)headerLength, path))
            {
                long size = entry.End - entry.Begin;
                if (size > Array.MaxLength)
                {
                    throw Invalid(path, $"tensor '{entry.Name}' has {size:N0} bytes, more than one array can hold");
                }
                var data = new byte[size];
                stream.Position = entry.DataStart + entry.Begin;
                if (stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false) < data.Length)
                {
                    throw Invalid(path, "it shrank while it was read");
                }
                visit(entry.Name, Decode(entry.Name, entry.DataType, entry.Shape, data, path).DetachFromDisposeScope());
            }
        }
        catch (Exception ex) when (ex is IOException and not FileNotFoundException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Cannot read safetensors file '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>One tensor's entry in a header, checked against the file.</summary>
    internal sealed record HeaderEntry(string Name, string DataType, long[] Shape, long DataStart, long Begin, long End);

    /// <summary>
    /// Parses and checks the header: the length prefix, the JSON, each entry's dtype, shape and offsets (in checked
    /// 64-bit arithmetic, against the data that follows the header), and that no name repeats.
    /// </summary>
    internal static List<HeaderEntry> ReadHeader(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 8)
        {
            throw Invalid(source, $"it has only {bytes.Length} bytes, fewer than the 8 of the header length");
        }
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8))
        {
            throw Invalid(source, $"its header length {headerLength:N0} exceeds the {bytes.Length - 8:N0} bytes that follow (truncated, or not a safetensors file)");
        }
        if (headerLength > MaxHeaderBytes)
        {
            throw Invalid(source, $"its header of {headerLength:N0} bytes exceeds the format's limit of {MaxHeaderBytes:N0}");
        }
        return ReadHeader(bytes.Slice(8, (int)headerLength), 8 + (long)headerLength, bytes.Length - 8 - (long)headerLength, source);
    }

    // The header's JSON, checked against the data that follows it: dataLength bytes from dataStart on.
    private static List<HeaderEntry> ReadHeader(ReadOnlySpan<byte> json, long dataStart, long dataLength, string source)
    {
        JsonDocument header;
        try
        {
            header = JsonInput.Parse(json, "header");
        }
        catch (InvalidDataException ex)
        {
            throw Invalid(source, $"its {ex.Message}");
        }
        using (header)
        {
            if (header.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(source, $"its header is a JSON {header.RootElement.ValueKind.ToString().ToLowerInvariant()}, not an object");
            }
            var entries = new List<HeaderEntry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in header.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw Invalid(source, $"the header names '{property.Name}' twice");
                }
                if (property.Name == "__metadata__")
                {
                    continue;
                }
                entries.Add(Entry(property, dataStart, dataLength, source));
            }
            return entries;
        }
    }

    private static HeaderEntry Entry(JsonProperty property, long dataStart, long dataLength, string source)
    {
        string name = property.Name;
        JsonElement value = property.Value;
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(source, $"the entry of tensor '{name}' is not an object");
        }
        string dtype = value.TryGetProperty("dtype", out JsonElement d) && d.ValueKind == JsonValueKind.String
            ? d.GetString()!
            : throw Invalid(source, $"tensor '{name}' has no dtype string");
        if (!DataTypes.Contains(dtype))
        {
            throw Invalid(source, $"tensor '{name}' has the unsupported dtype '{dtype}' (supported: {string.Join(", ", DataTypes)})");
        }
        long[] shape = Integers(value, "shape", name, source);
        long[] offsets = Integers(value, "data_offsets", name, source);
        if (offsets.Length != 2 || offsets[1] < offsets[0])
        {
            throw Invalid(source, $"tensor '{name}' has data_offsets [{string.Join(", ", offsets)}]; expected [begin, end] with begin <= end");
        }
        if (offsets[1] > dataLength)
        {
            throw Invalid(source, $"tensor '{name}' ends at byte {offsets[1]:N0} of the data, which has only {dataLength:N0} (truncated?)");
        }
        long bytes;
        try
        {
            // Representable when the non-zero dimensions and the element size multiply within 63 bits; a zero
            // dimension then makes the tensor empty.
            bytes = checked(shape.Where(d => d != 0).Aggregate(1L, (a, b) => a * b) * ElementSize(dtype));
            bytes = shape.Contains(0) ? 0 : bytes;
        }
        catch (OverflowException)
        {
            throw Invalid(source, $"tensor '{name}' has a shape [{string.Join(", ", shape)}] too large to exist");
        }
        if (bytes != offsets[1] - offsets[0])
        {
            throw Invalid(source,
                $"tensor '{name}' of shape [{string.Join(", ", shape)}] and dtype {dtype} needs {bytes:N0} bytes but its offsets give {offsets[1] - offsets[0]:N0}");
        }
        return new HeaderEntry(name, dtype, shape, dataStart, offsets[0], offsets[1]);
    }

    // A list of non-negative integers under `key`.
    private static long[] Integers(JsonElement entry, string key, string name, string source)
    {
        if (!entry.TryGetProperty(key, out JsonElement list) || list.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(source, $"tensor '{name}' has no {key} list");
        }
        var values = new List<long>();
        foreach (JsonElement item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long number) || number < 0)
            {
                throw Invalid(source, $"tensor '{name}' has {key} entry {item.GetRawText()}, not a non-negative integer");
            }
            values.Add(number);
        }
        if (values.Count > 64)
        {
            throw Invalid(source, $"tensor '{name}' has {values.Count} entries in {key}; at most 64 are supported");
        }
        return values.ToArray();
    }

    private static int ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        _ => 1,
    };

    private static InvalidDataException Invalid(string source, string problem) => new($"{source}: not a valid safetensors file: {problem}.");

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
