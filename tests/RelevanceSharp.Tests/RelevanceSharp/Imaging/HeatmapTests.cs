using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.Imaging;
using TorchSharp;
using static RelevanceSharp.Tests.Imaging.ImagingTestKit;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Imaging;

public class HeatmapTests
{
    private const string DejaVu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    [Fact]
    public void RelevanceIsSummedOverChannels()
    {
        using var scope = NewDisposeScope();
        // Two channels whose sum is -2, -1, 0, 1, 2.
        Tensor relevance = tensor(new float[] { -1, -1, 0, 0, 1, -1, 0, 0, 1, 1 }, [2, 1, 5]);
        AssertSame(tensor(new float[] { -2, -1, 0, 1, 2 }, [1, 5]), Heatmap.SumChannels(relevance));
        AssertSame(tensor(new float[] { -2, -1, 0, 1, 2 }, [1, 5]), Heatmap.SumChannels(relevance.unsqueeze(0)));
    }

    [Fact]
    public void SymmetricNormalizationCentersZero()
    {
        using var scope = NewDisposeScope();
        // max |x| = 3: (x + 3) / 6.
        Tensor values = tensor(new float[] { -1, 0, 1, 3 }, [1, 4]);
        AssertClose([1 / 3f, 0.5f, 2 / 3f, 1f], Heatmap.Normalize(values, symmetric: true));
        // Min-max: (x + 1) / 4.
        AssertClose([0f, 0.25f, 0.5f, 1f], Heatmap.Normalize(values, symmetric: false));
        // Overridden bounds; values beyond them are clamped.
        AssertClose([0f, 0f, 0.5f, 1f], Heatmap.Normalize(values, symmetric: false, min: 0, max: 2));
    }

    [Fact]
    public void DegenerateRangesGiveTheMiddleOrTheStart()
    {
        using var scope = NewDisposeScope();
        AssertClose([0.5f, 0.5f], Heatmap.Normalize(zeros(1, 2), symmetric: true));
        AssertClose([0f, 0f], Heatmap.Normalize(full(1, 2, Scalars.Of(7f)), symmetric: false));
        // Non-finite relevance counts as 0.
        AssertClose([0f, 0.5f, 1f], Heatmap.Normalize(tensor(new float[] { -2, float.NaN, 2 }, [1, 3]), symmetric: true));
    }

    [Fact]
    public void RenderQuantizesLikeZennit()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = tensor(new float[] { -2, -1, 0, 1, 2 }, [1, 1, 5]);
        // Symmetric: 0, .25, .5, .75, 1 -> floor(255 v) = 0, 63, 127, 191, 255; the gray palette maps i to i.
        Tensor gray = Heatmap.Render(relevance, new HeatmapOptions("gray"));
        Assert.Equal([3L, 1, 5], gray.shape);
        float[] expected = [0, 63 / 255f, 127 / 255f, 191 / 255f, 1];
        for (int c = 0; c < 3; c++)
        {
            AssertClose(expected, gray[c]);
        }
        // Min-max over 0, 1, 2, 3: 0, 1/3, 2/3, 1 -> 0, 85, 170, 255.
        Tensor minMax = Heatmap.Render(tensor(new float[] { 0, 1, 2, 3 }, [1, 4]), new HeatmapOptions("gray", Symmetric: false));
        AssertClose([0, 85 / 255f, 170 / 255f, 1], minMax[0]);
    }

    [Fact]
    public void ZeroRelevanceIsNearWhiteInBwr()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = tensor(new float[] { -1, 0, 1 }, [1, 1, 3]);
        Tensor image = Heatmap.Render(relevance);
        // Zero lands on palette entry 127 (floor of 127.5): 255 * 127/128 = 253.01 -> 253 for red and green.
        AssertClose([0, 253 / 255f, 1], image[0, 0]);
        AssertClose([0, 253 / 255f, 0], image[1, 0]);
        AssertClose([1, 1, 0], image[2, 0]);
    }

    [Fact]
    public void LevelAndCustomNotationReachThePalette()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = tensor(new float[] { -1, 0, 1 }, [1, 3]);
        // Level 0 collapses bwr to its middle color, 254/254/255, everywhere.
        Tensor flat = Heatmap.Render(relevance, new HeatmapOptions(Level: 0));
        AssertClose([254 / 255f, 254 / 255f, 1f], flat[.., 0, 0]);
        AssertClose([254 / 255f, 254 / 255f, 1f], flat[.., 0, 2]);
        Tensor custom = Heatmap.Render(relevance, new HeatmapOptions("0f0,f0f"));
        AssertClose([0f, 1f, 0f], custom[.., 0, 0]);
        AssertClose([1f, 0f, 1f], custom[.., 0, 2]);
        Assert.Throws<ArgumentException>(() => Heatmap.Render(relevance, new HeatmapOptions("nonsense")));
    }

    [Fact]
    public void EachSampleOfABatchIsNormalizedOnItsOwn()
    {
        using var scope = NewDisposeScope();
        Tensor one = rand(3, 6, 5).sub(Scalars.Of(0.5));
        Tensor batch = stack([one, one.mul(Scalars.Of(10))]);
        Assert.Throws<ArgumentException>(() => Heatmap.Render(batch));
        Tensor images = Heatmap.RenderEach(batch, new HeatmapOptions("coldnhot"));
        Assert.Equal([2L, 3, 6, 5], images.shape);
        AssertSame(images[0], images[1]);
        AssertSame(Heatmap.Render(one, new HeatmapOptions("coldnhot")), images[0]);
    }

    [Fact]
    public void PerSampleBoundsOverrideEachSamplesOwn()
    {
        using var scope = NewDisposeScope();
        // Sample 0 spans [-1, 1], sample 1 [-2, 2]. With bounds of 2 for sample 0, its extremes land at a quarter and
        // three quarters of the map instead of its ends; sample 1 keeps its own bounds.
        Tensor batch = stack(new[] { tensor(new float[] { -1, 1 }).reshape(1, 1, 2), tensor(new float[] { -2, 2 }).reshape(1, 1, 2) });
        Tensor own = Heatmap.RenderEach(batch, new HeatmapOptions("gray", Symmetric: false));
        Tensor bounded = Heatmap.RenderEach(batch, new HeatmapOptions("gray", Symmetric: false), min: [-2.0, -2.0], max: [2.0, 2.0]);
        Assert.True((own[1] == bounded[1]).all().item<bool>(), "sample 1 changed");
        Assert.Equal(0.0, own[0, 0, 0, 0].item<float>(), 2);
        Assert.Equal(63 / 255.0, bounded[0, 0, 0, 0].item<float>(), 2);
        Assert.Equal(191 / 255.0, bounded[0, 0, 0, 1].item<float>(), 2);
        Assert.Throws<ArgumentException>(() => Heatmap.RenderEach(batch, min: [0.0]));
    }

    [Fact]
    public void IntervalNormBoundsAreTakenOverTheChosenDimensions()
    {
        using var scope = NewDisposeScope();
        Tensor x = tensor(new float[] { -3, 1, 2, -1, 4, 0 }).reshape(2, 3);
        var (low, high) = Heatmap.IntervalNormBounds(x);
        Assert.Equal(new float[] { -3, -4 }, low.flatten().data<float>().ToArray());
        Assert.Equal(new float[] { 3, 4 }, high.flatten().data<float>().ToArray());
        Assert.Equal(new long[] { 2, 1 }, high.shape);
        var (min, max) = Heatmap.IntervalNormBounds(x, symmetric: false, dims: [0]);
        Assert.Equal(new float[] { -3, 1, 0 }, min.flatten().data<float>().ToArray());
        Assert.Equal(new float[] { -1, 4, 2 }, max.flatten().data<float>().ToArray());
    }

    [Fact]
    public void GridifyTilesRowByRowAndFillsTheRest()
    {
        using var scope = NewDisposeScope();
        // Three 1x2x2 samples with values 1, 2, 3: the default grid is 1 column (isqrt(3) = 1) by 3 rows; a 2x2 grid
        // puts them left to right, top to bottom, and fills the fourth cell.
        Tensor batch = stack(new[] { ones(1, 2, 2), full(new long[] { 1, 2, 2 }, Scalars.Of(2f)), full(new long[] { 1, 2, 2 }, Scalars.Of(3f)) });
        Assert.Equal(new long[] { 1, 6, 2 }, Heatmap.Gridify(batch).shape);
        Tensor grid = Heatmap.Gridify(batch, (2, 2), fill: -1);
        Assert.Equal(new long[] { 1, 4, 4 }, grid.shape);
        float[] expected =
        [
            1, 1, 2, 2,
            1, 1, 2, 2,
            3, 3, -1, -1,
            3, 3, -1, -1,
        ];
        Assert.Equal(expected, grid.flatten().data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => Heatmap.Gridify(batch, (1, 2)));
    }

    [Fact]
    public void OverlayBlendsWithAlpha()
    {
        using var scope = NewDisposeScope();
        Tensor heat = full(3, 4, 6, Scalars.Of(1f));
        Tensor image = full(1, 4, 6, Scalars.Of(0.2f));
        Tensor half = Heatmap.Overlay(heat, image, 0.5);
        Assert.Equal([3L, 4, 6], half.shape);
        Assert.True(MaxAbsDifference(half, full(3, 4, 6, Scalars.Of(0.6f))) < 1e-6f);
        AssertSame(image.expand(3, -1, -1), Heatmap.Overlay(heat, image.unsqueeze(0), 0));
        AssertSame(heat, Heatmap.Overlay(heat, image, 1));
        Assert.Throws<ArgumentException>(() => Heatmap.Overlay(heat, zeros(3, 5, 6)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Heatmap.Overlay(heat, image, 1.5));
    }

    [Theory]
    // Default columns: floor(sqrt(5)) = 2, so 3 rows. Width 2 * 8 + 3 * 4; height 3 * 6 + 4 * 4.
    [InlineData(5, null, 28, 34)]
    // One row of five: 5 * 8 + 6 * 4 wide, 6 + 2 * 4 high.
    [InlineData(5, 5, 64, 14)]
    [InlineData(1, null, 16, 14)]
    public void GridSizeFollowsTheLayout(int count, int? columns, int width, int height)
    {
        using var scope = NewDisposeScope();
        Tensor[] images = Enumerable.Range(0, count).Select(i => full(3, 6, 8, Scalars.Of(i / 10f))).ToArray();
        Tensor grid = ImageGrid.Grid(images, options: new GridOptions(Columns: columns));
        Assert.Equal([3L, height, width], grid.shape);
        // The first image is copied exactly into its cell, below the spacing.
        AssertSame(images[0], grid[.., 4..10, 4..12]);
    }

    [Fact]
    public void LabelsDrawWithTheBuiltinFont() => AssertLabelsDraw(new GridOptions(BuiltinFont: true), antialiased: false);

    [SkippableFact]
    public void LabelsDrawWithAFontFile()
    {
        // The file-font path needs a font; Debian's fonts-dejavu-core provides this one (./test.sh installs it).
        Skip.IfNot(File.Exists(DejaVu), $"no font at {DejaVu} (apt-get install fonts-dejavu-core)");
        AssertLabelsDraw(new GridOptions(FontFile: DejaVu), antialiased: true);
        Assert.NotNull(ImageGrid.FindSystemFont());
        // Without a named font the system font is found and used (antialiased text as well).
        AssertLabelsDraw(new GridOptions(), antialiased: true);
    }

    [Fact]
    public void MissingFontFileIsReported()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<FileNotFoundException>(() =>
            ImageGrid.Grid([zeros(3, 4, 4)], ["x"], new GridOptions(FontFile: "/no/such/font.ttf")));
        Assert.Contains("/no/such/font.ttf", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GridChecksItsArguments()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => ImageGrid.Grid([]));
        Assert.Throws<ArgumentException>(() => ImageGrid.Grid([zeros(3, 4, 4)], ["a", "b"]));
        Assert.Throws<ArgumentException>(() => ImageGrid.Grid([zeros(3, 4, 4)], options: new GridOptions(Columns: 0)));
    }

    [Fact]
    public void GridCentersSmallerImages()
    {
        using var scope = NewDisposeScope();
        Tensor big = zeros(3, 6, 8);
        Tensor small = full(1, 2, 4, Scalars.Of(0.5f));
        Tensor grid = ImageGrid.Grid([big, small], options: new GridOptions(Columns: 2, Spacing: 0, Background: Rgb.White));
        Assert.Equal([3L, 6, 16], grid.shape);
        // The 4x2 image sits in the middle of the second 8x6 cell; the rest of that cell is background.
        AssertSame(full(3, 2, 4, Scalars.Of(128 / 255f)), grid[.., 2..4, 10..14]);
        AssertSame(ones(3, 2, 8), grid[.., 0..2, 8..16]);
    }

    [Fact]
    public void BuiltinFontCoversLettersDigitsAndSymbols()
    {
        foreach (char c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:;-_+=/()[]%!?'\"#*<>|@&^\\")
        {
            Assert.True(ImageGrid.BitmapFont.Has(c), $"no glyph for '{c}'");
        }
        Assert.False(ImageGrid.BitmapFont.Has('€'));
    }

    // Draws a 2x2 grid with three labels (one cell unlabelled) and checks the label bands: ink where there are labels,
    // pure background where there is none; with the bitmap font every pixel is background or text color.
    private static void AssertLabelsDraw(GridOptions options, bool antialiased)
    {
        using var scope = NewDisposeScope();
        Tensor[] images = [zeros(3, 20, 40), zeros(3, 20, 40), zeros(3, 20, 40), zeros(3, 20, 40)];
        string?[] labels = ["input", "LRP e+", null, "class 281"];
        Tensor grid = ImageGrid.Grid(images, labels, options);
        int band = (int)Math.Ceiling(options.FontSize * 1.5);
        int spacing = options.Spacing;
        Assert.Equal([3L, 2 * (band + 20) + 3 * spacing, 2 * 40 + 3 * spacing], grid.shape);
        for (int i = 0; i < 4; i++)
        {
            int left = spacing + i % 2 * (40 + spacing);
            int top = spacing + i / 2 * (band + 20 + spacing);
            Tensor region = grid[.., top..(top + band), left..(left + 40)];
            long ink = region.lt(Scalars.Of(1f)).any(0).sum().ToInt64();
            if (labels[i] is null)
            {
                Assert.Equal(0, ink);
                continue;
            }
            Assert.True(ink > 10, $"label '{labels[i]}' drew {ink} pixels");
            long partial = (region.gt(Scalars.Of(0f)) & region.lt(Scalars.Of(1f))).any(0).sum().ToInt64();
            if (antialiased)
            {
                Assert.True(partial > 0, "text from a font file should be antialiased");
            }
            else
            {
                Assert.Equal(0, partial);
            }
        }
    }

    private static void AssertClose(float[] expected, Tensor actual)
    {
        float[] values = actual.flatten().to_type(ScalarType.Float32).data<float>().ToArray();
        Assert.Equal(expected.Length, values.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], values[i], 5);
        }
    }
}
