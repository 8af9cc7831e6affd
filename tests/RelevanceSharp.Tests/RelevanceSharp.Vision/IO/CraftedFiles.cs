using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace RelevanceSharp.Tests.IO;

/// <summary>Small hostile files built byte by byte, as an attacker would write them.</summary>
internal static class CraftedFiles
{
    /// <summary>
    /// A valid PNG structure whose header declares <paramref name="width"/> x <paramref name="height"/> pixels of RGB
    /// while its data holds a few bytes: 69 bytes in all.
    /// </summary>
    public static byte[] Png(uint width, uint height)
    {
        using var file = new MemoryStream();
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header, width);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;   // bit depth
        header[9] = 2;   // color type RGB
        Chunk(file, "IHDR", header);
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            zlib.Write(new byte[4]);
        }
        Chunk(file, "IDAT", compressed.ToArray());
        Chunk(file, "IEND", []);
        return file.ToArray();
    }

    /// <summary>A zip archive with the given entries, stored or deflated.</summary>
    public static byte[] Zip(IEnumerable<(string Name, byte[] Data)> entries, bool compress = false)
    {
        using var file = new MemoryStream();
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, data) in entries)
            {
                ZipArchiveEntry entry = zip.CreateEntry(name, compress ? CompressionLevel.SmallestSize : CompressionLevel.NoCompression);
                using Stream stream = entry.Open();
                stream.Write(data);
            }
        }
        return file.ToArray();
    }

    /// <summary>
    /// A pickle (protocol 2) that calls <c>os.system("true")</c> when a Python unpickler loads it: what a malicious
    /// checkpoint holds.
    /// </summary>
    public static byte[] MaliciousPickle() =>
        [0x80, 0x02, .. Encoding.ASCII.GetBytes("cos\nsystem\n"), (byte)'X', 4, 0, 0, 0, .. Encoding.ASCII.GetBytes("true"), 0x85, (byte)'R', (byte)'.'];

    /// <summary>A safetensors file from a header text and data bytes.</summary>
    public static byte[] SafeTensors(string header, int dataBytes)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }

    private static void Chunk(Stream file, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        file.Write(word);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        file.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc(typeAndData));
        file.Write(word);
    }

    // The CRC-32 of PNG chunks (ISO 3309), bit by bit.
    private static uint Crc(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }
        return ~crc;
    }
}
