using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using RelevanceSharp.Onnx.Protos;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Reading;

/// <summary>ONNX's element types, by their numbers in the file format.</summary>
internal static class ElementTypes
{
    public const int Float = 1;
    public const int UInt8 = 2;
    public const int Int8 = 3;
    public const int UInt16 = 4;
    public const int Int16 = 5;
    public const int Int32 = 6;
    public const int Int64 = 7;
    public const int String = 8;
    public const int Bool = 9;
    public const int Float16 = 10;
    public const int Double = 11;
    public const int UInt32 = 12;
    public const int UInt64 = 13;
    public const int BFloat16 = 16;

    /// <summary>The name ONNX gives a type, for messages.</summary>
    public static string Name(int type) => type switch
    {
        Float => "float",
        UInt8 => "uint8",
        Int8 => "int8",
        UInt16 => "uint16",
        Int16 => "int16",
        Int32 => "int32",
        Int64 => "int64",
        String => "string",
        Bool => "bool",
        Float16 => "float16",
        Double => "double",
        UInt32 => "uint32",
        UInt64 => "uint64",
        14 => "complex64",
        15 => "complex128",
        BFloat16 => "bfloat16",
        >= 17 and <= 23 => "float8/int4 (type " + type + ")",
        _ => "unknown type " + type,
    };

    /// <summary>Bytes per element of the types the importer reads, or 0 for the others.</summary>
    public static int Size(int type) => type switch
    {
        Float or Int32 or UInt32 => 4,
        Double or Int64 or UInt64 => 8,
        Float16 or BFloat16 or Int16 or UInt16 => 2,
        UInt8 or Int8 or Bool => 1,
        _ => 0,
    };

    /// <summary>Whether the type is a floating-point type the importer reads.</summary>
    public static bool IsFloat(int type) => type is Float or Double or Float16 or BFloat16;

    /// <summary>
    /// The TorchSharp type a value of this ONNX type is held in: float32 for the 32-bit and narrower float types,
    /// float64 for double, int64 for every integer type, bool for bool.
    /// </summary>
    public static ScalarType Held(int type) => type switch
    {
        Double => ScalarType.Float64,
        Float or Float16 or BFloat16 => ScalarType.Float32,
        Bool => ScalarType.Bool,
        _ => ScalarType.Int64,
    };
}

/// <summary>
/// Turns a <see cref="TensorProto"/> into a tensor, after checking its shape, type and data against each other and
/// the limits in 64-bit arithmetic, before allocating anything. External data is read only from files beside the
/// model (<see cref="SafeFile.Beside"/>). Floats of 16 bits become float32; integers of every width become int64.
/// </summary>
internal sealed class TensorReader
{
    private readonly string modelPath;
    private readonly OnnxLimits limits;
    private readonly bool fromFile;
    private long totalBytes;

    /// <summary>Creates a reader; external data is read only for a model read from a file (beside it).</summary>
    public TensorReader(string modelPath, OnnxLimits limits, bool fromFile)
    {
        this.modelPath = modelPath;
        this.limits = limits;
        this.fromFile = fromFile;
    }

    /// <summary>The bytes of all constants read so far.</summary>
    public long TotalBytes => totalBytes;

    /// <summary>Counts bytes of a constant made at load time against the total limit.</summary>
    public void Account(long bytes, string what)
    {
        totalBytes = checked(totalBytes + bytes);
        if (totalBytes > limits.MaxTotalConstantBytes)
        {
            throw new InvalidDataException(
                $"{modelPath}: {what}: the constants of the model exceed {limits.MaxTotalConstantBytes:N0} bytes in all (OnnxLimits.MaxTotalConstantBytes).");
        }
    }

    /// <summary>The checked shape of a tensor and its number of elements.</summary>
    public (long[] Shape, long Count) Shape(IReadOnlyList<long> dims, string what)
    {
        if (dims.Count > limits.MaxRank)
        {
            throw new InvalidDataException($"{modelPath}: {what} has {dims.Count} dimensions, more than {limits.MaxRank}.");
        }
        // The product of the dimensions other than 0 is bounded too: libtorch computes strides from them even for a
        // tensor without elements, and overflows on [0, 2^40, 2^40].
        long count = 1;
        long extent = 1;
        long bound = limits.MaxValueElements * 64;
        foreach (long d in dims)
        {
            if (d < 0)
            {
                throw new InvalidDataException($"{modelPath}: {what} has a negative dimension ({d}).");
            }
            if (d != 0 && extent > bound / d)
            {
                throw new InvalidDataException($"{modelPath}: {what} has shape [{string.Join(", ", dims)}], too many elements.");
            }
            extent *= Math.Max(d, 1);
            count *= d;
        }
        return (dims.ToArray(), count);
    }

    /// <summary>Reads a tensor; <paramref name="what"/> names it in messages.</summary>
    public Tensor Read(TensorProto proto, string what)
    {
        int type = proto.HasDataType ? proto.DataType : 0;
        int size = ElementTypes.Size(type);
        if (size == 0 || type is ElementTypes.UInt64)
        {
            throw new InvalidDataException($"{modelPath}: {what} has element type {ElementTypes.Name(type)}, which is not supported.");
        }
        if (proto.Segment is not null)
        {
            throw new InvalidDataException($"{modelPath}: {what} is stored in segments, which is not supported.");
        }
        var (shape, count) = Shape(proto.Dims, what);
        long bytes = checked(count * size);
        if (bytes > limits.MaxTensorBytes)
        {
            throw new InvalidDataException($"{modelPath}: {what} has {bytes:N0} bytes, more than the limit of {limits.MaxTensorBytes:N0} (OnnxLimits.MaxTensorBytes).");
        }
        if (!BitConverter.IsLittleEndian)
        {
            throw new InvalidDataException($"{modelPath}: reading ONNX tensors needs a little-endian machine.");
        }
        bool external = proto.HasDataLocation && proto.DataLocation == 1;
        if (proto.HasDataLocation && proto.DataLocation is not (0 or 1))
        {
            throw new InvalidDataException($"{modelPath}: {what} has an unknown data location ({proto.DataLocation}).");
        }
        int typedCount = TypedCount(proto);
        int sources = (proto.HasRawData ? 1 : 0) + (typedCount > 0 ? 1 : 0) + (external ? 1 : 0);
        if (sources > 1)
        {
            throw new InvalidDataException($"{modelPath}: {what} holds its values in more than one place (raw data, typed list, external file).");
        }
        Account(bytes, what);
        if (external)
        {
            return FromBytes(ReadExternal(proto, bytes, what), type, shape, what);
        }
        if (proto.HasRawData)
        {
            if (proto.RawData.Length != bytes)
            {
                throw new InvalidDataException(
                    $"{modelPath}: {what} has {proto.RawData.Length:N0} bytes of raw data; its shape [{string.Join(", ", shape)}] of {ElementTypes.Name(type)} needs {bytes:N0}.");
            }
            return FromBytes(proto.RawData.Span, type, shape, what);
        }
        if (typedCount != count && !(count == 0 && typedCount == 0))
        {
            throw new InvalidDataException(
                $"{modelPath}: {what} has {typedCount:N0} values for its shape [{string.Join(", ", shape)}] of {count:N0} elements.");
        }
        return FromTyped(proto, type, shape, what);
    }

    private int TypedCount(TensorProto proto) => proto.FloatData.Count + proto.Int32Data.Count + proto.Int64Data.Count + proto.DoubleData.Count
        + proto.Uint64Data.Count + proto.StringData.Count;

    private byte[] ReadExternal(TensorProto proto, long bytes, string what)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (StringStringEntryProto entry in proto.ExternalData)
        {
            switch (entry.Key)
            {
                case "location":
                    location = entry.Value;
                    break;
                case "offset":
                    offset = ParseSize(entry.Value, "offset", what);
                    break;
                case "length":
                    length = ParseSize(entry.Value, "length", what);
                    break;
                case "checksum":
                    break;
                default:
                    throw new InvalidDataException($"{modelPath}: {what} has an unknown external data key '{Errors.Clip(entry.Key)}'.");
            }
        }
        if (location is null)
        {
            throw new InvalidDataException($"{modelPath}: {what} is stored externally but names no location.");
        }
        if (!fromFile)
        {
            throw new InvalidDataException($"{modelPath}: {what} is stored in an external file, which only a model read from a file (beside it) can use.");
        }
        string file = SafeFile.Beside(modelPath, location, $"{modelPath}: {what}");
        long fileLength = IO.InputFile.Check(file, "external data", long.MaxValue);
        long count = length ?? fileLength - Math.Min(offset, fileLength);
        if (count != bytes)
        {
            throw new InvalidDataException($"{modelPath}: {what} has {count:N0} bytes of external data; its shape and type need {bytes:N0}.");
        }
        if (offset > fileLength || count > fileLength - offset)
        {
            throw new InvalidDataException(
                $"{modelPath}: {what}: bytes {offset:N0} to {offset + count:N0} of '{Errors.Clip(location)}' are past its end ({fileLength:N0} bytes).");
        }
        return SafeFile.ReadRange(file, "external data", offset, count);
    }

    private long ParseSize(string text, string key, string what) =>
        long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new InvalidDataException($"{modelPath}: {what} has external data {key} '{Errors.Clip(text)}', not a non-negative integer.");

    private static Tensor FromBytes(ReadOnlySpan<byte> data, int type, long[] shape, string what)
    {
        switch (type)
        {
            case ElementTypes.Float:
                return tensor(MemoryMarshal.Cast<byte, float>(data).ToArray(), shape);
            case ElementTypes.Double:
                return tensor(MemoryMarshal.Cast<byte, double>(data).ToArray(), shape);
            case ElementTypes.Int64:
                return tensor(MemoryMarshal.Cast<byte, long>(data).ToArray(), shape);
            case ElementTypes.Int32:
                return tensor(Widen(MemoryMarshal.Cast<byte, int>(data)), shape);
            case ElementTypes.UInt32:
                return tensor(Widen(MemoryMarshal.Cast<byte, uint>(data)), shape);
            case ElementTypes.Int16:
                return tensor(Widen(MemoryMarshal.Cast<byte, short>(data)), shape);
            case ElementTypes.UInt16:
                return tensor(Widen(MemoryMarshal.Cast<byte, ushort>(data)), shape);
            case ElementTypes.Int8:
                return tensor(Widen(MemoryMarshal.Cast<byte, sbyte>(data)), shape);
            case ElementTypes.UInt8:
                return tensor(Widen(data), shape);
            case ElementTypes.Bool:
                return tensor(data.ToArray().Select(b => b != 0).ToArray(), shape);
            case ElementTypes.Float16:
                return tensor(MemoryMarshal.Cast<byte, Half>(data).ToArray().Select(h => (float)h).ToArray(), shape);
            case ElementTypes.BFloat16:
                return tensor(MemoryMarshal.Cast<byte, ushort>(data).ToArray().Select(BFloat16).ToArray(), shape);
            default:
                throw new InvalidDataException($"{what} has element type {ElementTypes.Name(type)}, which is not supported.");
        }
    }

    private Tensor FromTyped(TensorProto proto, int type, long[] shape, string what)
    {
        string Wrong(string list) => $"{modelPath}: {what} of type {ElementTypes.Name(type)} keeps its values in {list}, where that type has none.";
        long count = shape.Aggregate(1L, (a, b) => a * b);
        // The list read must hold one value per element: the count checked before covers every list, also those
        // this type does not read (a fuzzed float tensor with its one value in the string list).
        TValue[] Checked<TValue>(TValue[] values) => values.LongLength == count
            ? values
            : throw new InvalidDataException($"{modelPath}: {what} has {values.LongLength:N0} values of type {ElementTypes.Name(type)} for its shape [{string.Join(", ", shape)}] of {count:N0} elements.");
        switch (type)
        {
            case ElementTypes.Float:
                return proto.FloatData.Count > 0 || proto.Int32Data.Count + proto.Int64Data.Count + proto.DoubleData.Count == 0
                    ? tensor(Checked(proto.FloatData.ToArray()), shape)
                    : throw new InvalidDataException(Wrong("another list"));
            case ElementTypes.Double:
                return proto.DoubleData.Count > 0 || TypedCount(proto) == 0
                    ? tensor(Checked(proto.DoubleData.ToArray()), shape)
                    : throw new InvalidDataException(Wrong("another list"));
            case ElementTypes.Int64:
                return proto.Int64Data.Count > 0 || TypedCount(proto) == 0
                    ? tensor(Checked(proto.Int64Data.ToArray()), shape)
                    : throw new InvalidDataException(Wrong("another list"));
            case ElementTypes.UInt32:
                return proto.Uint64Data.Count > 0 || TypedCount(proto) == 0
                    ? tensor(Checked(proto.Uint64Data.Select(v => v > uint.MaxValue ? throw new InvalidDataException(Wrong("values out of range")) : (long)v).ToArray()), shape)
                    : throw new InvalidDataException(Wrong("another list"));
            case ElementTypes.Float16:
                return proto.Int32Data.Count > 0 || TypedCount(proto) == 0
                    ? tensor(Checked(proto.Int32Data.Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray()), shape)
                    : throw new InvalidDataException(Wrong("another list"));
            case ElementTypes.BFloat16:
                return proto.Int32Data.Count > 0 || TypedCount(proto) == 0
                    ? tensor(Checked(proto.Int32Data.Select(v => BFloat16((ushort)v)).ToArray()), shape)
                    : throw new InvalidDataException(Wrong("another list"));
            case ElementTypes.Bool:
                return proto.Int32Data.Count > 0 || TypedCount(proto) == 0
                    ? tensor(Checked(proto.Int32Data.Select(v => v != 0).ToArray()), shape)
                    : throw new InvalidDataException(Wrong("another list"));
            case ElementTypes.Int32 or ElementTypes.Int16 or ElementTypes.UInt16 or ElementTypes.Int8 or ElementTypes.UInt8:
                return proto.Int32Data.Count > 0 || TypedCount(proto) == 0
                    ? tensor(Checked(proto.Int32Data.Select(v => (long)v).ToArray()), shape)
                    : throw new InvalidDataException(Wrong("another list"));
            default:
                throw new InvalidDataException($"{modelPath}: {what} has element type {ElementTypes.Name(type)}, which is not supported.");
        }
    }

    private static long[] Widen<T>(ReadOnlySpan<T> values) where T : struct, IConvertible
    {
        var result = new long[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i].ToInt64(System.Globalization.CultureInfo.InvariantCulture);
        }
        return result;
    }

    private static float BFloat16(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);
}
