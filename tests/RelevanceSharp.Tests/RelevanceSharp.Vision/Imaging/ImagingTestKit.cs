using System.Buffers.Binary;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Imaging;

/// <summary>A folder under the system temp folder, deleted with everything in it on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "relevancesharp-imaging-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string[] Names() => Directory.GetFileSystemEntries(Path).Select(System.IO.Path.GetFileName).Order().ToArray()!;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Test images made with SkiaSharp, and their expected tensor values.</summary>
internal static class ImagingTestKit
{
    /// <summary>A color test pattern: red rises to the right, green rises downwards, blue is 255 - red.</summary>
    public static byte[,,] ColorPattern(int width, int height)
    {
        var pixels = new byte[height, width, 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                byte r = (byte)(x * 255 / Math.Max(1, width - 1));
                pixels[y, x, 0] = r;
                pixels[y, x, 1] = (byte)(y * 255 / Math.Max(1, height - 1));
                pixels[y, x, 2] = (byte)(255 - r);
            }
        }
        return pixels;
    }

    /// <summary>A gray test pattern: a diagonal ramp.</summary>
    public static byte[,] GrayPattern(int width, int height)
    {
        var pixels = new byte[height, width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                pixels[y, x] = (byte)((x + y) * 255 / Math.Max(1, width + height - 2));
            }
        }
        return pixels;
    }

    public static SKBitmap ColorBitmap(byte[,,] pixels)
    {
        int height = pixels.GetLength(0), width = pixels.GetLength(1);
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                bitmap.SetPixel(x, y, new SKColor(pixels[y, x, 0], pixels[y, x, 1], pixels[y, x, 2]));
            }
        }
        return bitmap;
    }

    public static SKBitmap GrayBitmap(byte[,] pixels)
    {
        int height = pixels.GetLength(0), width = pixels.GetLength(1);
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        byte[] bytes = new byte[width * height];
        Buffer.BlockCopy(pixels, 0, bytes, 0, bytes.Length);
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
        return bitmap;
    }

    /// <summary>Encodes a bitmap with SkiaSharp and writes it to <paramref name="path"/>.</summary>
    public static void Write(SKBitmap bitmap, string path, SKEncodedImageFormat format, int quality = 100)
    {
        using SKPixmap pixmap = bitmap.PeekPixels();
        using SKData? data = format == SKEncodedImageFormat.Webp
            ? pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, quality))
            : pixmap.Encode(format, quality);
        Assert.NotNull(data);
        File.WriteAllBytes(path, data.ToArray());
    }

    /// <summary>
    /// Writes an uncompressed 24-bit BMP. SkiaSharp decodes BMP but has no BMP encoder, so the test writes the
    /// simple format itself: a 14-byte file header, a 40-byte info header, then bottom-up BGR rows padded to 4 bytes.
    /// </summary>
    public static void WriteBmp(byte[,,] pixels, string path)
    {
        int height = pixels.GetLength(0), width = pixels.GetLength(1);
        int rowSize = (width * 3 + 3) / 4 * 4;
        byte[] file = new byte[54 + rowSize * height];
        file[0] = (byte)'B';
        file[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(2), file.Length);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(34), rowSize * height);
        for (int y = 0; y < height; y++)
        {
            int row = 54 + (height - 1 - y) * rowSize;
            for (int x = 0; x < width; x++)
            {
                file[row + 3 * x] = pixels[y, x, 2];
                file[row + 3 * x + 1] = pixels[y, x, 1];
                file[row + 3 * x + 2] = pixels[y, x, 0];
            }
        }
        File.WriteAllBytes(path, file);
    }

    /// <summary>The (3, H, W) tensor in [0, 1] that a color pattern should load as.</summary>
    public static Tensor Expected(byte[,,] pixels)
    {
        int height = pixels.GetLength(0), width = pixels.GetLength(1);
        byte[] bytes = new byte[height * width * 3];
        Buffer.BlockCopy(pixels, 0, bytes, 0, bytes.Length);
        return torch.tensor(bytes, [height, width, 3], ScalarType.Byte).permute(2, 0, 1).to_type(ScalarType.Float32).div(Scalars.Of(255f));
    }

    /// <summary>The (1, H, W) tensor in [0, 1] that a gray pattern should load as.</summary>
    public static Tensor Expected(byte[,] pixels)
    {
        int height = pixels.GetLength(0), width = pixels.GetLength(1);
        byte[] bytes = new byte[height * width];
        Buffer.BlockCopy(pixels, 0, bytes, 0, bytes.Length);
        return torch.tensor(bytes, [1, height, width], ScalarType.Byte).to_type(ScalarType.Float32).div(Scalars.Of(255f));
    }

    /// <summary>The color type SkiaSharp reports for an encoded file (to check that a test file is really gray).</summary>
    public static SKColorType EncodedColorType(string path)
    {
        using SKCodec codec = SKCodec.Create(path);
        return codec.Info.ColorType;
    }

    /// <summary>Asserts equal shapes and exactly equal values.</summary>
    public static void AssertSame(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.eq(actual).all().ToBoolean(), "The tensors differ.");
    }

    public static float MaxAbsDifference(Tensor a, Tensor b) => (a - b).abs().max().ToSingle();
}
