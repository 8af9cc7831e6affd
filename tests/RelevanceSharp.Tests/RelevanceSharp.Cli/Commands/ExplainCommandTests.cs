using RelevanceSharp.IO;
using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.IO;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Cli;

/// <summary>
/// <c>relevance explain</c> end to end: a folder of PNG images explained by a zoo model whose weights the project
/// saved, and the demo model on single files; the files written are read back and checked.
/// </summary>
public sealed class ExplainCommandTests : IClassFixture<Resnet18Weights>, IClassFixture<ScratchDemoFolder>, IDisposable
{
    private readonly Resnet18Weights weights;
    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public ExplainCommandTests(Resnet18Weights weights, ScratchDemoFolder demo)
    {
        this.weights = weights;
        this.demo = demo;
    }

    public void Dispose() => work.Dispose();

    private string ImageFolder()
    {
        work.Image("images/a.png", 80, 64, seed: 1);
        work.Image("images/b.png", 64, 96, seed: 2);
        work.Image("images/c.png", 70, 70, seed: 3);
        work.File("images/notes.txt", "not an image"u8.ToArray());
        return work.PathOf("images");
    }

    [Theory]
    [InlineData("npy")]
    [InlineData("safetensors")]
    public void ExplainsAFolderWithAZooModelAndWritesHeatmapsOverlaysAndRelevance(string format)
    {
        string images = ImageFolder();
        CliResult result = CliWorkspace.Run("explain", images, "--model", "resnet18", "--weights", weights.Path18, "--num-classes", "10",
            "--size", "64", "--crop", "64", "--canonizer", "resnet", "--relevance-format", format, "--overlay", "--batch-size", "2",
            "--output", work.Output);

        Assert.True(result.Code == 0, result.Error);
        Assert.Empty(result.Error);
        string[] stems = ["a", "b", "c"];
        var expected = stems.SelectMany(s => new[] { $"{s}.png", $"{s}.overlay.png", $"{s}.{format}" }).Append("manifest-0-of-1.jsonl").Order(StringComparer.Ordinal);
        Assert.Equal(expected, CliWorkspace.Entries(work.Output));

        foreach (string stem in stems)
        {
            using var scope = NewDisposeScope();
            Tensor heatmap = ImageIO.Load(Path.Combine(work.Output, stem + ".png"));
            Tensor overlay = ImageIO.Load(Path.Combine(work.Output, stem + ".overlay.png"));
            Assert.Equal(new long[] { 3, 64, 64 }, heatmap.shape);
            Assert.Equal(new long[] { 3, 64, 64 }, overlay.shape);
            Tensor relevance = format == "npy"
                ? Npy.Load(Path.Combine(work.Output, stem + ".npy"))
                : Assert.Single(SafeTensors.Load(Path.Combine(work.Output, stem + ".safetensors")), e => e.Key == "relevance").Value;
            Assert.Equal(new long[] { 3, 64, 64 }, relevance.shape);
            Assert.Equal(ScalarType.Float32, relevance.dtype);
            Assert.True(isfinite(relevance).all().item<bool>(), "relevance must be finite");
            Assert.True(relevance.abs().sum().item<float>() > 0, "relevance must not be all zero");
            // The heatmap is exactly the rendering of the relevance written next to it.
            Tensor rendered = Heatmap.Render(relevance);
            Assert.True((rendered - heatmap).abs().max().item<float>() < 1e-6f, $"{stem}.png differs from the rendered relevance");
        }

        string[] lines = result.Lines;
        Assert.StartsWith("Explaining 3 images with resnet18 (10 classes): LRP with epsilon_plus_flat, canonizers resnet", lines[0], StringComparison.Ordinal);
        for (int i = 0; i < 3; i++)
        {
            Assert.Matches($@"^{stems[i]}\.png: predicted \d \(\d+\.\d%\), target \d -> ", lines[i + 1]);
        }
        Assert.StartsWith("Explained 3 images in ", lines[4], StringComparison.Ordinal);
        Assert.EndsWith($"wrote 9 files to {work.Output}.", lines[4], StringComparison.Ordinal);
    }

    [Fact]
    public void ThePrintedPredictionIsTheModelsOwn()
    {
        string image = work.Image("one.png", 64, 64, seed: 5);
        CliResult result = CliWorkspace.Run("explain", image, "-m", "resnet18", "-w", weights.Path18, "--num-classes", "10",
            "--size", "64", "-o", work.Output);
        Assert.True(result.Code == 0, result.Error);

        using var scope = NewDisposeScope();
        using ZooModel model = ModelZoo.Create("resnet18", 10);
        Checkpoint.Load(model, weights.Path18);
        long expected;
        using (no_grad())
        {
            expected = model.call(ImageIO.LoadInput(image, ImageTransform.ImageNet(64, 64))).argmax(1).item<long>();
        }
        Assert.Contains($"one.png: predicted {expected} (", result.Output, StringComparison.Ordinal);
        Assert.Contains($"target {expected} -> ", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDemoModelExplainsAGivenClassOfSingleFiles()
    {
        string first = work.Image("x/first.png", 28, 28, seed: 1, gray: true);
        string second = work.Image("y/second.png", 56, 40, seed: 2);
        CliResult result = CliWorkspace.Run("explain", first, second, "--demo-folder", demo.Folder, "--target", "3",
            "--composite", "epsilon_gamma_box", "--canonizer", "densenet_seq_thresh", "--relevance-format", "npy", "-o", work.Output);

        Assert.True(result.Code == 0, result.Error);
        Assert.Equal(["first.npy", "first.png", "manifest-0-of-1.jsonl", "second.npy", "second.png"], CliWorkspace.Entries(work.Output));
        using var scope = NewDisposeScope();
        Assert.Equal(new long[] { 3, 28, 28 }, ImageIO.Load(Path.Combine(work.Output, "second.png")).shape);
        Assert.Equal(new long[] { 1, 28, 28 }, Npy.Load(Path.Combine(work.Output, "second.npy")).shape);
        Assert.Contains("LRP with epsilon_gamma_box, canonizers densenet_seq_thresh; explaining class Dress", result.Lines[0], StringComparison.Ordinal);
        Assert.Contains(result.Lines, l => l.StartsWith("first.png: predicted ", StringComparison.Ordinal) && l.Contains("target Dress", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("gradient", "gradient")]
    [InlineData("smoothgrad", "SmoothGrad (3 samples")]
    [InlineData("integrated-gradients", "Integrated Gradients (3 steps)")]
    [InlineData("occlusion", "occlusion (window 7, stride 7)")]
    public void OtherMethodsWriteHeatmapsToo(string method, string described)
    {
        string image = work.Image("in/shirt.png", 28, 28, seed: 4, gray: true);
        string[] args = ["explain", image, "--demo-folder", demo.Folder, "--method", method, "--iterations", "3", "--window", "7", "-o", work.Output];
        if (method == "gradient")
        {
            args = [.. args, "--composite", "gradient"];
        }
        CliResult result = CliWorkspace.Run(args);

        Assert.True(result.Code == 0, result.Error);
        Assert.Contains(described, result.Lines[0], StringComparison.Ordinal);
        Assert.Equal(["manifest-0-of-1.jsonl", "shirt.png"], CliWorkspace.Entries(work.Output));
    }
}
