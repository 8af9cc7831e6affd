using System.Runtime.InteropServices;
using RelevanceSharp.IO;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Vision.Imaging;

/// <summary>The formats heatmaps and overlays can be written in.</summary>
public enum ImageFormat
{
    /// <summary>Lossless PNG (the default).</summary>
    Png,

    /// <summary>JPEG, lossy.</summary>
    Jpeg,

    /// <summary>WebP, lossy.</summary>
    Webp,
}

/// <summary>
/// Reads images (PNG, JPEG, WebP, BMP, GIF; grayscale or color) into float tensors and writes tensors as PNG files,
/// with SkiaSharp doing the decoding and encoding. Image tensors are <c>(C, H, W)</c> with values in [0, 1], where C
/// is 1 (gray) or 3 (red, green, blue); model inputs carry a leading batch axis.
/// </summary>
public static class ImageIO
{
    /// <summary>
    /// Reads an image file as a <c>(C, H, W)</c> float32 tensor in [0, 1]: 3 channels (gray images repeated), or 1
    /// luminance channel when <paramref name="grayscale"/> is set. Alpha is dropped without blending.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is empty, truncated, corrupt or not an image; the one-line message names the file and the problem.
    /// </exception>
    /// <remarks>
    /// Only regular files of at most <see cref="ImageTransform.MaxFileBytes"/> are read, and an image whose header
    /// declares more than <paramref name="maxPixels"/> pixels is refused before any pixel is decoded.
    /// </remarks>
    public static Tensor Load(string path, bool grayscale = false, long maxPixels = ImageTransform.DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = InputFile.ReadAll(path, "image", ImageTransform.MaxFileBytes);
        return Decode(bytes, grayscale, path, maxPixels);
    }

    /// <summary>Like <see cref="Load"/>, with a leading batch axis: <c>(1, C, H, W)</c>.</summary>
    public static Tensor LoadBatch(string path, bool grayscale = false)
    {
        using var scope = NewDisposeScope();
        return Load(path, grayscale).unsqueeze(0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Decodes image file contents as <see cref="Load"/> does; <paramref name="source"/> names the data in error
    /// messages.
    /// </summary>
    public static Tensor Decode(byte[] bytes, bool grayscale = false, string source = "image", long maxPixels = ImageTransform.DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length == 0)
        {
            throw Unreadable(source, "the file is empty");
        }
        using var stream = new MemoryStream(bytes, writable: false);
        using SKCodec? codec = SKCodec.Create(stream, out SKCodecResult result);
        if (codec is null)
        {
            throw Unreadable(source, Describe(result));
        }
        SKImageInfo info = codec.Info;
        if (info.Width <= 0 || info.Height <= 0)
        {
            throw Unreadable(source, $"the image has no pixels ({info.Width}x{info.Height})");
        }
        // The header's size, checked in 64 bits before the decoder allocates anything: a few bytes can declare
        // 100000x100000 pixels, whose RGBA size wraps around in 32 bits.
        long pixels = (long)info.Width * info.Height;
        if (pixels > maxPixels)
        {
            throw Unreadable(source, $"its header declares {info.Width}x{info.Height} = {pixels:N0} pixels, more than the limit of {maxPixels:N0} (--max-pixels raises it)");
        }
        if (pixels * 4 > Array.MaxLength)
        {
            throw Unreadable(source, $"at {info.Width}x{info.Height} pixels it is too large to decode in one piece");
        }
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        result = codec.GetPixels(target, out byte[] rgba);
        if (result != SKCodecResult.Success)
        {
            throw Unreadable(source, Describe(result));
        }
        return FromRgba(rgba, info.Width, info.Height, target.RowBytes, grayscale);
    }

    /// <summary>
    /// Reads an image and turns it into a model input <c>(1, C, H, W)</c>: <see cref="ImageTransforms.Prepare"/> then
    /// <see cref="ImageTransforms.Normalize"/>.
    /// </summary>
    public static Tensor LoadInput(string path, ImageTransform transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        transform.Validate();
        using var scope = NewDisposeScope();
        Tensor image = ImageTransforms.Prepare(Load(path, transform.Grayscale, transform.MaxPixels), transform);
        return ImageTransforms.Normalize(image, transform.Mean, transform.Std).unsqueeze(0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Encodes an image as PNG: <c>(3, H, W)</c> or <c>(1, 3, H, W)</c> as RGB, <c>(1, H, W)</c> or <c>(H, W)</c> as
    /// 8-bit gray. Floating-point values are clamped to [0, 1] and rounded to 0..255; uint8 values are used as they
    /// are.
    /// </summary>
    public static byte[] EncodePng(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using SKBitmap bitmap = ToBitmap(image);
        using SKPixmap pixmap = bitmap.PeekPixels();
        using SKData? data = pixmap.Encode(SKEncodedImageFormat.Png, 100);
        return data?.ToArray() ?? throw new InvalidOperationException("SkiaSharp could not encode the image as PNG.");
    }

    /// <summary>
    /// Encodes an image as <paramref name="format"/> (the tensor layouts as <see cref="EncodePng"/>); JPEG and WebP are
    /// lossy at <paramref name="quality"/> (1 to 100).
    /// </summary>
    public static byte[] Encode(Tensor image, ImageFormat format, int quality = 95)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        if (format == ImageFormat.Png)
        {
            return EncodePng(image);
        }
        using SKBitmap bitmap = ToBitmap(image);
        using SKPixmap pixmap = bitmap.PeekPixels();
        SKEncodedImageFormat encoded = format == ImageFormat.Jpeg ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Webp;
        using SKData? data = pixmap.Encode(encoded, quality);
        return data?.ToArray() ?? throw new InvalidOperationException($"SkiaSharp could not encode the image as {format}.");
    }

    /// <summary>The usual file extension of a format, with the dot: <c>.png</c>, <c>.jpg</c>, <c>.webp</c>.</summary>
    public static string Extension(ImageFormat format) => format switch
    {
        ImageFormat.Jpeg => ".jpg",
        ImageFormat.Webp => ".webp",
        _ => ".png",
    };

    /// <summary>
    /// Writes an image as a PNG file (see <see cref="EncodePng"/>). The file appears complete or not at all: the
    /// data goes to a temporary file in the same folder, which then replaces the target.
    /// </summary>
    /// <exception cref="IOException">The file could not be written; the message names it.</exception>
    public static void SavePng(string path, Tensor image)
    {
        ArgumentNullException.ThrowIfNull(path);
        WriteAtomically(path, EncodePng(image));
    }

    /// <summary>Writes bytes to <paramref name="path"/> through a temporary file in the same folder.</summary>
    internal static void WriteAtomically(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Cannot write '{path}': the folder '{folder}' does not exist.");
        }
        string temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw new IOException($"Cannot write '{path}': {ex.Message}", ex);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Converts an image tensor to an opaque RGBA bitmap (gray is repeated into the three channels).</summary>
    internal static SKBitmap ToBitmap(Tensor image)
    {
        byte[] pixels = ToInterleavedBytes(image, out int height, out int width, out int channels);
        var info = new SKImageInfo(width, height, channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        var bitmap = new SKBitmap(info);
        IntPtr target = bitmap.GetPixels();
        int stride = width * (channels == 1 ? 1 : 4);
        byte[] row = new byte[stride];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int from = (y * width + x) * channels;
                if (channels == 1)
                {
                    row[x] = pixels[from];
                }
                else
                {
                    row[4 * x] = pixels[from];
                    row[4 * x + 1] = pixels[from + 1];
                    row[4 * x + 2] = pixels[from + 2];
                    row[4 * x + 3] = 255;
                }
            }
            Marshal.Copy(row, 0, target + y * bitmap.RowBytes, stride);
        }
        return bitmap;
    }

    /// <summary>Converts an RGBA8888 bitmap to a <c>(3, H, W)</c> float tensor in [0, 1], dropping alpha.</summary>
    internal static Tensor FromBitmap(SKBitmap bitmap)
    {
        if (bitmap.ColorType != SKColorType.Rgba8888)
        {
            throw new ArgumentException($"Expected an RGBA8888 bitmap, got {bitmap.ColorType}.", nameof(bitmap));
        }
        return FromRgba(bitmap.GetPixelSpan().ToArray(), bitmap.Width, bitmap.Height, bitmap.RowBytes, grayscale: false);
    }

    // Packs RGBA rows into a (C, H, W) float tensor; gray uses 8-bit ITU-R 601 luma (R 299, G 587, B 114 per
    // mille, rounded), which leaves a gray pixel's value unchanged.
    private static Tensor FromRgba(byte[] rgba, int width, int height, int rowBytes, bool grayscale)
    {
        int channels = grayscale ? 1 : 3;
        byte[] planar = new byte[channels * width * height];
        int plane = width * height;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int from = y * rowBytes + 4 * x;
                int to = y * width + x;
                byte r = rgba[from], g = rgba[from + 1], b = rgba[from + 2];
                if (grayscale)
                {
                    planar[to] = (byte)((r * 299 + g * 587 + b * 114 + 500) / 1000);
                }
                else
                {
                    planar[to] = r;
                    planar[plane + to] = g;
                    planar[2 * plane + to] = b;
                }
            }
        }
        using var scope = NewDisposeScope();
        return (torch.tensor(planar, [channels, height, width], ScalarType.Byte).to_type(ScalarType.Float32).div(Scalars.Of(255f)))
            .MoveToOuterDisposeScope();
    }

    // Returns the pixels as bytes in (H, W, C) order, C being 1 or 3.
    private static byte[] ToInterleavedBytes(Tensor image, out int height, out int width, out int channels)
    {
        using var scope = NewDisposeScope();
        Tensor planar = image.detach().cpu();
        planar = planar.dim() switch
        {
            2 => planar.unsqueeze(0),
            3 => planar,
            4 when planar.shape[0] == 1 => planar.squeeze(0),
            _ => throw ShapeError(image),
        };
        if (planar.shape[0] is not (1 or 3) || planar.shape[1] < 1 || planar.shape[2] < 1)
        {
            throw ShapeError(image);
        }
        if (planar.dtype != ScalarType.Byte)
        {
            if (!planar.is_floating_point())
            {
                throw new ArgumentException($"An image tensor must be uint8 or floating point, not {planar.dtype}.", nameof(image));
            }
            planar = (planar.to_type(ScalarType.Float32).nan_to_num(0, 1, 0).clamp(Scalars.Of(0), Scalars.Of(1)).mul(Scalars.Of(255f))).round().to_type(ScalarType.Byte);
        }
        channels = (int)planar.shape[0];
        height = (int)planar.shape[1];
        width = (int)planar.shape[2];
        return planar.permute(1, 2, 0).contiguous().data<byte>().ToArray();
    }

    private static ArgumentException ShapeError(Tensor image) => new(
        $"An image tensor must be (H, W), (1|3, H, W) or (1, 1|3, H, W); got [{string.Join(", ", image.shape)}].",
        nameof(image));

    private static InvalidDataException Unreadable(string source, string problem) =>
        new($"Cannot read image '{source}': {problem}.");

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "the file is truncated (the image data ends early)",
        SKCodecResult.ErrorInInput => "the image data is corrupt",
        SKCodecResult.InvalidInput or SKCodecResult.Unimplemented =>
            "not a supported image (PNG, JPEG, WebP, BMP or GIF) or the header is damaged",
        SKCodecResult.InvalidConversion => "its pixel format cannot be converted to RGB",
        _ => $"the decoder reported {result}",
    };

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The temporary file could not be removed; the original error matters more.
        }
    }
}
