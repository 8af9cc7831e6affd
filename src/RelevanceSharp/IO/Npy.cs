using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using static TorchSharp.torch;

namespace RelevanceSharp.IO;

/// <summary>Writes NumPy's <c>.npy</c> format (version 1.0, little-endian, C order) for float and integer tensors.</summary>
public static class Npy
{
    /// <summary>Writes a tensor; the file appears only when complete.</summary>
    public static void Save(string path, Tensor tensor) => AtomicFile.Write(path, Encode(tensor));

    /// <summary>The bytes of a <c>.npy</c> file holding <paramref name="tensor"/>.</summary>
    public static byte[] Encode(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = NewDisposeScope();
        Tensor cpu = tensor.detach().cpu().contiguous();
        (string descr, byte[] data) = cpu.dtype switch
        {
            ScalarType.Float32 => ("<f4", MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()).ToArray()),
            ScalarType.Float64 => ("<f8", MemoryMarshal.AsBytes(cpu.data<double>().ToArray().AsSpan()).ToArray()),
            ScalarType.Int64 => ("<i8", MemoryMarshal.AsBytes(cpu.data<long>().ToArray().AsSpan()).ToArray()),
            ScalarType.Int32 => ("<i4", MemoryMarshal.AsBytes(cpu.data<int>().ToArray().AsSpan()).ToArray()),
            ScalarType.Byte => ("|u1", cpu.data<byte>().ToArray()),
            _ => throw new NotSupportedException($"Writing {cpu.dtype} tensors to .npy is not supported."),
        };
        string shape = cpu.dim() switch
        {
            0 => "()",
            1 => $"({cpu.shape[0].ToString(CultureInfo.InvariantCulture)},)",
            _ => "(" + string.Join(", ", cpu.shape.Select(s => s.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
        int unpadded = 10 + header.Length + 1;
        header += new string(' ', (64 - unpadded % 64) % 64) + "\n";
        using var stream = new MemoryStream(10 + header.Length + data.Length);
        stream.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(data);
        return stream.ToArray();
    }

    /// <summary>Reads a <c>.npy</c> file written by <see cref="Save"/> (or NumPy, same restrictions).</summary>
    public static Tensor Load(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
        {
            throw new InvalidDataException($"{path} is not a .npy file.");
        }
        int headerLength = BitConverter.ToUInt16(bytes, 8);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        string descr = Field(header, "descr").Trim('\'', ' ');
        if (Field(header, "fortran_order").Trim() != "False")
        {
            throw new NotSupportedException($"{path} is in Fortran order.");
        }
        string shapeText = Field(header, "shape").Trim().Trim('(', ')');
        long[] shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        ReadOnlySpan<byte> data = bytes.AsSpan(10 + headerLength);
        return descr switch
        {
            "<f4" => tensor(MemoryMarshal.Cast<byte, float>(data).ToArray(), shape, ScalarType.Float32),
            "<f8" => tensor(MemoryMarshal.Cast<byte, double>(data).ToArray(), shape, ScalarType.Float64),
            "<i8" => tensor(MemoryMarshal.Cast<byte, long>(data).ToArray(), shape, ScalarType.Int64),
            "<i4" => tensor(MemoryMarshal.Cast<byte, int>(data).ToArray(), shape, ScalarType.Int32),
            "|u1" => tensor(data.ToArray(), shape, ScalarType.Byte),
            _ => throw new NotSupportedException($"{path} holds the unsupported dtype {descr}."),
        };
    }

    private static string Field(string header, string name)
    {
        int key = header.IndexOf($"'{name}'", StringComparison.Ordinal);
        if (key < 0)
        {
            throw new InvalidDataException($"The .npy header has no '{name}'.");
        }
        int start = header.IndexOf(':', key) + 1;
        int end = name == "shape" ? header.IndexOf(')', start) + 1 : header.IndexOf(',', start);
        return header[start..end];
    }
}
