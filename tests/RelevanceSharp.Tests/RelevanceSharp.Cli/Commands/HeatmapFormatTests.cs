using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Cli;

/// <summary><c>explain --heatmap-format</c>: heatmaps and overlays as JPEG or WebP files that decode to the model input's size.</summary>
public sealed class HeatmapFormatTests : IClassFixture<ScratchDemoFolder>, IDisposable
{
    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public HeatmapFormatTests(ScratchDemoFolder demo) => this.demo = demo;

    public void Dispose() => work.Dispose();

    [Theory]
    [InlineData("jpeg", ".jpg", new byte[] { 0xFF, 0xD8, 0xFF })]
    [InlineData("webp", ".webp", new byte[] { (byte)'R', (byte)'I', (byte)'F', (byte)'F' })]
    [InlineData("png", ".png", new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' })]
    public void HeatmapsAndOverlaysAreWrittenInTheChosenFormat(string format, string extension, byte[] magic)
    {
        work.Image("images/a.png", 28, 28, seed: 1, gray: true);
        CliResult result = CliWorkspace.Run("explain", work.PathOf("images"), "--demo-folder", demo.Folder, "--output", work.Output,
            "--heatmap-format", format, "--overlay");
        Assert.True(result.Code == 0, result.Error);
        string[] images = [.. new[] { "a" + extension, "a.overlay" + extension }.Order(StringComparer.Ordinal)];
        Assert.Equal([.. images, "manifest-0-of-1.jsonl"], CliWorkspace.Entries(work.Output));
        foreach (string file in images)
        {
            string path = Path.Combine(work.Output, file);
            Assert.Equal(magic, File.ReadAllBytes(path)[..magic.Length]);
            using var scope = NewDisposeScope();
            Assert.Equal(new long[] { 3, 28, 28 }, ImageIO.Load(path).shape);
        }
    }

    [Fact]
    public void AnUnknownFormatIsRefused()
    {
        work.Image("images/a.png", 28, 28, seed: 1, gray: true);
        CliResult result = CliWorkspace.Run("explain", work.PathOf("images"), "--demo-folder", demo.Folder, "--output", work.Output,
            "--heatmap-format", "tiff");
        Assert.NotEqual(0, result.Code);
        Assert.Contains("tiff", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
    }
}

/// <summary>Color maps registered by name reach <c>explain --colormap</c>.</summary>
public sealed class RegisteredColorMapTests : IClassFixture<ScratchDemoFolder>, IDisposable
{
    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public RegisteredColorMapTests(ScratchDemoFolder demo)
    {
        this.demo = demo;
        if (!ColorMap.RegisteredNames.Contains("test-greens"))
        {
            ColorMap.Register("test-greens", "000,0f0");
        }
    }

    public void Dispose() => work.Dispose();

    [Fact]
    public void ARegisteredMapIsFoundByNameAndUsedByExplain()
    {
        Assert.Equal((0.0, 1.0, 0.0), ColorMap.Get("test-greens").Map(1.0));
        work.Image("images/a.png", 28, 28, seed: 1, gray: true);
        CliResult result = CliWorkspace.Run("explain", work.PathOf("images"), "--demo-folder", demo.Folder, "--output", work.Output,
            "--colormap", "test-greens");
        Assert.True(result.Code == 0, result.Error);
        using var scope = NewDisposeScope();
        // Only black-to-green colors: no red and no blue anywhere in the heatmap.
        Tensor heatmap = ImageIO.Load(Path.Combine(work.Output, "a.png"));
        Assert.Equal(0.0, heatmap[0].abs().max().item<float>() + heatmap[2].abs().max().item<float>(), 6);
    }

    [Theory]
    [InlineData("bwr", "built-in")]
    [InlineData("test-greens", "already registered")]
    [InlineData("9lives", "cannot name")]
    public void NamesThatCannotWorkAreRefused(string name, string reason) =>
        Assert.Contains(reason, Assert.Throws<ArgumentException>(() => ColorMap.Register(name, "000,fff")).Message, StringComparison.Ordinal);

    [Fact]
    public void InvalidNotationIsRefused() =>
        Assert.Throws<ArgumentException>(() => ColorMap.Register("test-broken", "not a color"));
}
