namespace RelevanceSharp.Vision.Imaging;

/// <summary>
/// How an image file becomes a model input: shorter side resized to <paramref name="Size"/>, a centered square of
/// <paramref name="CropSize"/> cut out, then each channel normalized as <c>(x - mean) / std</c>.
/// </summary>
/// <param name="Size">Length of the shorter side after resizing; 0 keeps the image's size.</param>
/// <param name="CropSize">Side of the centered square crop; 0 keeps the whole (resized) image.</param>
/// <param name="Mean">Per-channel mean, one value per channel or a single value for all channels.</param>
/// <param name="Std">Per-channel standard deviation, one value per channel or a single value for all channels.</param>
/// <param name="Grayscale">Read images as one luminance channel instead of three color channels.</param>
public sealed record ImageTransform(int Size, int CropSize, IReadOnlyList<float> Mean, IReadOnlyList<float> Std, bool Grayscale = false)
{
    /// <summary>The ImageNet channel means used by torchvision's pretrained models (red, green, blue).</summary>
    public static IReadOnlyList<float> ImageNetMean { get; } = [0.485f, 0.456f, 0.406f];

    /// <summary>The ImageNet channel standard deviations used by torchvision's pretrained models.</summary>
    public static IReadOnlyList<float> ImageNetStd { get; } = [0.229f, 0.224f, 0.225f];

    /// <summary>The default of <see cref="MaxPixels"/>: 50 million pixels (an 8K frame has 33 million).</summary>
    public const long DefaultMaxPixels = 50_000_000;

    /// <summary>The largest image file read: 256 MiB.</summary>
    public const long MaxFileBytes = 256L << 20;

    /// <summary>
    /// The most pixels an image may have, as its header declares it (checked before anything is decoded) and after
    /// resizing. Untrusted files can declare any size in a few bytes; this bounds the memory one image can take.
    /// </summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>The number of channels this transform produces: 1 in grayscale, else 3.</summary>
    public int Channels => Grayscale ? 1 : 3;

    /// <summary>torchvision's usual ImageNet evaluation transform: resize to 256, crop 224, ImageNet mean/std.</summary>
    public static ImageTransform ImageNet(int size = 256, int cropSize = 224) =>
        new(size, cropSize, ImageNetMean, ImageNetStd);

    /// <summary>A single-channel (grayscale) transform with one mean and standard deviation.</summary>
    public static ImageTransform SingleChannel(int size, int cropSize, float mean = 0.5f, float std = 0.5f) =>
        new(size, cropSize, [mean], [std], Grayscale: true);

    /// <summary>Throws <see cref="ArgumentException"/> when the settings cannot work together.</summary>
    public void Validate()
    {
        if (Size < 0 || CropSize < 0)
        {
            throw new ArgumentException($"Image size {Size} and crop size {CropSize} must not be negative.");
        }
        if (Size > 0 && CropSize > Size)
        {
            throw new ArgumentException($"The crop size {CropSize} is larger than the resized shorter side {Size}.");
        }
        if (MaxPixels < 1)
        {
            throw new ArgumentException($"The pixel limit must be at least 1; got {MaxPixels}.");
        }
        if ((long)Math.Max(Size, CropSize) * Math.Max(Size, CropSize) > MaxPixels)
        {
            throw new ArgumentException(
                $"An image of {Math.Max(Size, CropSize)}x{Math.Max(Size, CropSize)} pixels would exceed the limit of {MaxPixels:N0} pixels (--max-pixels raises it).");
        }
        ImageTransforms.CheckMeanStd(Mean, Std, Channels);
    }
}
