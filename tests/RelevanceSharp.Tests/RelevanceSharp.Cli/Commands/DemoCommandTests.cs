using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Cli;

/// <summary><c>relevance demo</c>: the labelled grid and the predictions.</summary>
public sealed class DemoCommandTests : IClassFixture<ScratchDemoFolder>, IDisposable
{
    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public DemoCommandTests(ScratchDemoFolder demo) => this.demo = demo;

    public void Dispose() => work.Dispose();

    /// <summary>
    /// The grid's size from its layout: per composite a group of 3 columns, plus the input column (and with the demo
    /// vision transformer a group of 4); cells of 28 * 5
    /// pixels with a label band of ceil(11 * 1.5) = 17 pixels, 4 pixels of spacing, and a header band of
    /// ceil(14 * 1.5) = 21 pixels above each group.
    /// </summary>
    internal static (int Width, int Height) ExpectedSize(int samples, bool transformer = false)
    {
        const int Cell = 140, Band = 17, Header = 21, Space = 4;
        int innerHeight = samples * (Band + Cell) + (samples + 1) * Space;
        int inputWidth = Cell + 2 * Space;
        int groupWidth = 3 * Cell + 4 * Space;
        int transformerWidth = transformer ? 4 * Cell + 5 * Space + 2 * Space : 0;
        return (inputWidth + 2 * Space + 3 * (groupWidth + 2 * Space) + transformerWidth, innerHeight + Header + 2 * Space);
    }

    [Fact]
    public void WritesTheGridAndPrintsThePredictions()
    {
        CliResult result = CliWorkspace.Run("demo", "--demo-folder", demo.Folder, "--output", work.Output);

        Assert.True(result.Code == 0, result.Error);
        Assert.Equal([DemoGrid.FileName, "text_1.html", "text_2.html", "text_3.html"], CliWorkspace.Entries(work.Output));
        using var scope = NewDisposeScope();
        Tensor grid = ImageIO.Load(Path.Combine(work.Output, DemoGrid.FileName));
        var (width, height) = ExpectedSize(4);
        Assert.Equal(new long[] { 3, height, width }, grid.shape);
        Assert.Equal(4, result.Lines.Count(l => l.Contains("_sample.png", StringComparison.Ordinal) && l.Contains(" predicted ", StringComparison.Ordinal)));
        int wrote = Array.IndexOf(result.Lines, $"Wrote {Path.Combine(work.Output, DemoGrid.FileName)} ({width}x{height})");
        Assert.True(wrote > 0, result.Output);
        Assert.Matches(@"^Accuracy on the 4 samples: \d/4 \(\d+\.\d%\)$", result.Lines[wrote - 1]);
        // Then the text demo: three recall prompts, each explained with AttnLRP on one line of tokens.
        string[] prompts = result.Lines.Where(l => l.StartsWith("pairs:", StringComparison.Ordinal)).ToArray();
        Assert.Equal(3, prompts.Length);
        Assert.All(prompts, l => Assert.Contains("largest relevance on", l, StringComparison.Ordinal));
        Assert.Equal(3, result.Lines.Count(l => l.StartsWith("[<|begin_of_text|>|", StringComparison.Ordinal)));
        Assert.StartsWith("Wrote ", result.Lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void TheGroundTruthTableHasARowPerMethod()
    {
        CliResult result = CliWorkspace.Run("demo", "--demo-folder", demo.Folder, "--output", work.Output, "--ground-truth", "4");
        Assert.True(result.Code == 0, result.Error);
        string[] rows = result.Lines.SkipWhile(l => !l.StartsWith("Ground truth over 4 recall prompts", StringComparison.Ordinal)).Skip(1).ToArray();
        Assert.Equal(new[] { "attnlrp", "cp_lrp", "gradient", "input_x_gradient", "attention_rollout", "random" }, rows.Select(r => r.Split(' ')[0]));
        Assert.All(rows, r => Assert.Matches(@"^\S+ +\d/4 = +\d+\.\d% +\(on the query: \d\)$", r));
    }
}
