using RelevanceSharp.Vision.Imaging;
using SkiaSharp;
using TorchSharp;
using static RelevanceSharp.Tests.Imaging.ImagingTestKit;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Imaging;

public class ImageIOTests
{
    [Fact]
    public void PngRoundTripIsExact()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        Tensor image = Expected(ColorPattern(23, 17));
        string path = folder.File("round.png");
        ImageIO.SavePng(path, image);
        Tensor loaded = ImageIO.Load(path);
        Assert.Equal([3L, 17, 23], loaded.shape);
        Assert.Equal(ScalarType.Float32, loaded.dtype);
        AssertSame(image, loaded);
        // The written file is an opaque RGB PNG.
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(path)[..4]);
        using SKCodec codec = SKCodec.Create(path);
        Assert.Equal(SKAlphaType.Opaque, codec.Info.AlphaType);
    }

    [Fact]
    public void BatchAndUint8TensorsAreWritten()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        Tensor image = Expected(ColorPattern(8, 5));
        ImageIO.SavePng(folder.File("batch.png"), image.unsqueeze(0));
        ImageIO.SavePng(folder.File("bytes.png"), (image.mul(Scalars.Of(255))).round().to_type(ScalarType.Byte));
        AssertSame(image, ImageIO.Load(folder.File("batch.png")));
        AssertSame(image, ImageIO.Load(folder.File("bytes.png")));
        Tensor batch = ImageIO.LoadBatch(folder.File("batch.png"));
        Assert.Equal([1L, 3, 5, 8], batch.shape);
    }

    [Fact]
    public void GrayPngRoundTripsAndReadsAsColorToo()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        Tensor gray = Expected(GrayPattern(19, 11));
        string path = folder.File("gray.png");
        ImageIO.SavePng(path, gray);
        Assert.Equal(SKColorType.Gray8, EncodedColorType(path));
        AssertSame(gray, ImageIO.Load(path, grayscale: true));
        Tensor color = ImageIO.Load(path);
        Assert.Equal([3L, 11, 19], color.shape);
        AssertSame(gray.expand(3, -1, -1), color);
    }

    [Fact]
    public void ReadsJpegWebpAndBmp()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        byte[,,] pixels = ColorPattern(32, 24);
        Tensor expected = Expected(pixels);
        using (SKBitmap bitmap = ColorBitmap(pixels))
        {
            Write(bitmap, folder.File("a.jpg"), SKEncodedImageFormat.Jpeg, 100);
            Write(bitmap, folder.File("a.webp"), SKEncodedImageFormat.Webp);
        }
        WriteBmp(pixels, folder.File("a.bmp"));

        Tensor jpeg = ImageIO.Load(folder.File("a.jpg"));
        Assert.Equal([3L, 24, 32], jpeg.shape);
        // JPEG is lossy (chroma subsampling on sharp gradients); stay close on average and within bounds everywhere.
        Assert.True((jpeg - expected).abs().mean().ToSingle() < 0.02f);
        Assert.True(MaxAbsDifference(jpeg, expected) < 0.2f);
        // Lossless WebP and uncompressed BMP read back exactly.
        AssertSame(expected, ImageIO.Load(folder.File("a.webp")));
        AssertSame(expected, ImageIO.Load(folder.File("a.bmp")));
    }

    [Fact]
    public void ReadsGrayJpeg()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        byte[,] pixels = GrayPattern(40, 30);
        using (SKBitmap bitmap = GrayBitmap(pixels))
        {
            Write(bitmap, folder.File("g.jpg"), SKEncodedImageFormat.Jpeg, 100);
        }
        Assert.Equal(SKColorType.Gray8, EncodedColorType(folder.File("g.jpg")));
        Tensor gray = ImageIO.Load(folder.File("g.jpg"), grayscale: true);
        Assert.Equal([1L, 30, 40], gray.shape);
        Assert.True(MaxAbsDifference(gray, Expected(pixels)) < 0.02f);
    }

    [Fact]
    public void ColorToGrayUsesRec601Luma()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var pixels = new byte[1, 3, 3] { { { 255, 0, 0 }, { 10, 200, 30 }, { 77, 77, 77 } } };
        string path = folder.File("luma.png");
        ImageIO.SavePng(path, Expected(pixels));
        float[] gray = ImageIO.Load(path, grayscale: true).data<float>().ToArray();
        // (255*299 + 500) / 1000 = 76; (10*299 + 200*587 + 30*114 + 500) / 1000 = 124; gray stays gray.
        Assert.Equal([76 / 255f, 124 / 255f, 77 / 255f], gray);
    }

    [Theory]
    [InlineData("png cut in half", "truncated")]
    [InlineData("png cut inside the header", "truncated")]
    [InlineData("jpeg cut in half", "truncated")]
    [InlineData("png with damaged pixel data", "corrupt")]
    [InlineData("random bytes", "not a supported image")]
    [InlineData("empty", "empty")]
    public void DamagedFilesAreReportedInOneLineNamingTheFile(string damage, string problem)
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        byte[] png = ImageIO.EncodePng(Expected(ColorPattern(64, 64)));
        using (SKBitmap bitmap = ColorBitmap(ColorPattern(64, 64)))
        {
            Write(bitmap, folder.File("good.jpg"), SKEncodedImageFormat.Jpeg, 90);
        }
        byte[] jpeg = File.ReadAllBytes(folder.File("good.jpg"));
        byte[] contents = damage switch
        {
            "png cut in half" => png[..(png.Length / 2)],
            "png cut inside the header" => png[..20],
            "jpeg cut in half" => jpeg[..(jpeg.Length / 2)],
            // Flipping bits in the middle of the compressed data breaks its checksum.
            "png with damaged pixel data" => png.Select((b, i) => i >= png.Length / 2 && i < png.Length / 2 + 32 ? (byte)(b ^ 0x5A) : b).ToArray(),
            "random bytes" => RandomBytes(4096, seed: 1234),
            _ => [],
        };
        string path = folder.File("damaged.img");
        File.WriteAllBytes(path, contents);
        var ex = Assert.Throws<InvalidDataException>(() => ImageIO.Load(path));
        AssertOneLineNaming(ex, path, problem);
    }

    [Fact]
    public void MissingFileNamesTheFile()
    {
        using var folder = new TempFolder();
        string missing = folder.File("missing.png");
        AssertOneLineNaming(Assert.Throws<FileNotFoundException>(() => ImageIO.Load(missing)), missing, "does not exist");
    }

    [Fact]
    public void SavingLeavesOnlyTheTargetAndReplacesIt()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = folder.File("out.png");
        ImageIO.SavePng(path, zeros(3, 4, 4));
        ImageIO.SavePng(path, ones(3, 4, 4));
        Assert.Equal(["out.png"], folder.Names());
        AssertSame(ones(3, 4, 4), ImageIO.Load(path));
    }

    [Fact]
    public void FailedSavesLeaveNoPartialFile()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = folder.File("keep.png");
        ImageIO.SavePng(path, ones(3, 4, 4));
        byte[] before = File.ReadAllBytes(path);

        // A tensor that is no image fails before anything is written; the old file is untouched.
        Assert.Throws<ArgumentException>(() => ImageIO.SavePng(path, zeros(2, 4, 4)));
        Assert.Equal(before, File.ReadAllBytes(path));

        // The final move fails (the target is a folder that is not empty): the temporary file is removed.
        string blocked = folder.File("blocked.png");
        Directory.CreateDirectory(blocked);
        File.WriteAllBytes(Path.Combine(blocked, "inside"), [1]);
        var ex = Assert.Throws<IOException>(() => ImageIO.SavePng(blocked, zeros(3, 4, 4)));
        Assert.Contains(blocked, ex.Message, StringComparison.Ordinal);
        Assert.Equal(["blocked.png", "keep.png"], folder.Names());

        // A missing folder is reported as such and nothing is created.
        string nowhere = Path.Combine(folder.Path, "no-such-folder", "x.png");
        Assert.Throws<DirectoryNotFoundException>(() => ImageIO.SavePng(nowhere, zeros(3, 4, 4)));
        Assert.Equal(["blocked.png", "keep.png"], folder.Names());
    }

    [Theory]
    [InlineData(100, 200, 50, 50, 100)]
    [InlineData(300, 120, 60, 150, 60)]
    // The longer side is truncated: 5 * 10 / 7 = 7.14 -> 7.
    [InlineData(7, 10, 5, 5, 7)]
    [InlineData(64, 64, 32, 32, 32)]
    public void ResizeScalesTheShorterSide(int height, int width, int size, int newHeight, int newWidth)
    {
        using var scope = NewDisposeScope();
        Tensor resized = ImageTransforms.Resize(full(3, height, width, Scalars.Of(0.25f)), size);
        Assert.Equal([3L, newHeight, newWidth], resized.shape);
        // Antialiased bilinear interpolation keeps a constant image constant.
        Assert.True(MaxAbsDifference(resized, full_like(resized, Scalars.Of(0.25f))) < 1e-6f);
        Assert.Equal([2L, 3, newHeight, newWidth], ImageTransforms.Resize(rand(2, 3, height, width), size).shape);
    }

    [Fact]
    public void CenterCropTakesTheMiddleRoundingHalfToEven()
    {
        using var scope = NewDisposeScope();
        Tensor image = arange(Scalars.Of(0L), Scalars.Of(10 * 13), Scalars.One, dtype: ScalarType.Float32).reshape(1, 10, 13);
        Tensor crop = ImageTransforms.CenterCrop(image, 4);
        Assert.Equal([1L, 4, 4], crop.shape);
        // Top (10 - 4) / 2 = 3; left (13 - 4) / 2 = 4.5, rounded half to even to 4: the first value is 3 * 13 + 4.
        Assert.Equal(43f, crop[0, 0, 0].ToSingle());
        Assert.Equal(3 * 13 + 4 + 3 * 13 + 3, crop[0, 3, 3].ToSingle());
        Assert.Throws<ArgumentException>(() => ImageTransforms.CenterCrop(image, 11));
    }

    [Fact]
    public void NormalizeUsesPerChannelMeanAndStd()
    {
        using var scope = NewDisposeScope();
        Tensor image = full(3, 2, 2, Scalars.Of(0.5f));
        Tensor normalized = ImageTransforms.Normalize(image, ImageTransform.ImageNetMean, ImageTransform.ImageNetStd);
        float[] expected = [(0.5f - 0.485f) / 0.229f, (0.5f - 0.456f) / 0.224f, (0.5f - 0.406f) / 0.225f];
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(expected[c], normalized[c, 1, 1].ToSingle(), 5);
        }
        Tensor back = ImageTransforms.Denormalize(normalized, ImageTransform.ImageNetMean, ImageTransform.ImageNetStd);
        Assert.True(MaxAbsDifference(back, image) < 1e-6f);
        // One value applies to every channel; a batch axis is fine.
        Tensor single = ImageTransforms.Normalize(full(2, 1, 3, 3, Scalars.Of(1f)), [0.5f], [0.25f]);
        Assert.True(single.eq(Scalars.Of(2f)).all().ToBoolean());
        Assert.Throws<ArgumentException>(() => ImageTransforms.Normalize(image, [0.5f, 0.5f], [1f, 1f]));
        Assert.Throws<ArgumentException>(() => ImageTransforms.Normalize(image, [0.5f], [0f]));
    }

    [Fact]
    public void LoadInputResizesCropsAndNormalizes()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = folder.File("photo.png");
        ImageIO.SavePng(path, full(3, 200, 300, Scalars.Of(0.5f)));
        Tensor input = ImageIO.LoadInput(path, ImageTransform.ImageNet());
        Assert.Equal([1L, 3, 224, 224], input.shape);
        Assert.Equal((128 / 255f - 0.485f) / 0.229f, input[0, 0, 100, 100].ToSingle(), 4);

        Tensor gray = ImageIO.LoadInput(path, ImageTransform.SingleChannel(32, 28, mean: 0.5f, std: 0.5f));
        Assert.Equal([1L, 1, 28, 28], gray.shape);
        Assert.Equal((128 / 255f - 0.5f) / 0.5f, gray[0, 0, 5, 5].ToSingle(), 4);

        Tensor display = ImageTransforms.Prepare(ImageIO.Load(path), ImageTransform.ImageNet());
        Assert.Equal([3L, 224, 224], display.shape);
        Tensor untouched = ImageTransforms.Prepare(ImageIO.Load(path), new ImageTransform(0, 0, [0f], [1f]));
        Assert.Equal([3L, 200, 300], untouched.shape);
    }

    [Fact]
    public void TransformSettingsAreChecked()
    {
        Assert.Throws<ArgumentException>(() => new ImageTransform(200, 224, [0.5f], [0.5f]).Validate());
        Assert.Throws<ArgumentException>(() => (ImageTransform.ImageNet() with { Grayscale = true }).Validate());
        Assert.Throws<ArgumentException>(() => new ImageTransform(-1, 0, [0.5f], [0.5f]).Validate());
        ImageTransform.ImageNet().Validate();
        ImageTransform.SingleChannel(28, 28).Validate();
    }

    private static void AssertOneLineNaming(Exception ex, string path, string problem)
    {
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    private static byte[] RandomBytes(int count, int seed)
    {
        byte[] bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
