using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Vision.Data;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Cli;

/// <summary>
/// The demo model that ships in <c>assets/demo</c>: its size, its accuracy on the Fashion-MNIST test set (the
/// figure the README states), its predictions on the shipped samples, and <c>relevance demo</c> run on it as a new
/// user runs it.
/// </summary>
public sealed class ShippedDemoTests : IDisposable
{
    /// <summary>The test-set accuracy the README states for the shipped weights, in percent with two decimals.</summary>
    private const double StatedAccuracy = 92.40;

    /// <summary>How many of the 12 shipped samples the README says the model classifies correctly.</summary>
    private const int StatedSampleHits = 12;

    private static readonly string Folder = Path.Combine(TestPaths.RepositoryRoot, "assets", "demo");
    private readonly CliWorkspace work = new();

    public void Dispose() => work.Dispose();

    [Fact]
    public void WeightsAreSmallAndSamplesCoverEveryClass()
    {
        Assert.True(new FileInfo(Path.Combine(Folder, DemoModel.WeightsFile)).Length < 2_000_000);
        var samples = DemoModel.Samples(Folder);
        Assert.Equal(12, samples.Count);
        Assert.Equal(Enumerable.Range(0, 10), samples.Select(s => s.Label).Distinct().Order());
        foreach (var (path, _) in samples)
        {
            using var scope = NewDisposeScope();
            Assert.Equal(new long[] { 28, 28 }, ImageIO.Load(path).shape[1..]);
        }
    }

    [SkippableFact]
    [Trait("Category", "Slow")]
    public void ReachesTheStatedAccuracyOnTheTestSet()
    {
        // A missing data set is a missing prerequisite (./test.sh installs it), not a failure of the model.
        Skip.IfNot(Directory.Exists(FashionMnist.DebianFolder),
            $"the Fashion-MNIST test set is not installed at {FashionMnist.DebianFolder} (apt-get install dataset-fashion-mnist, or run ./test.sh)");
        using var scope = NewDisposeScope();
        FashionMnist test = FashionMnist.Load(FashionMnist.DebianFolder, train: false);
        using DenseNet model = DemoModel.Load(Folder);
        double accuracy = DemoModel.Evaluate(model, test) * 100;
        Assert.True(accuracy >= 90.0, $"test accuracy {accuracy:F2} %");
        Assert.Equal(StatedAccuracy, accuracy, 2);
    }

    [Fact]
    public void DemoCommandExplainsTheShippedSamples()
    {
        // No --demo-folder: the command finds the shipped model itself, as it does for a new user.
        CliResult result = CliWorkspace.Run("demo", "--output", work.Output);

        Assert.True(result.Code == 0, result.Error);
        using var scope = NewDisposeScope();
        Tensor grid = ImageIO.Load(Path.Combine(work.Output, DemoGrid.FileName));
        var (width, height) = DemoCommandTests.ExpectedSize(12, transformer: true);
        Assert.Equal(new long[] { 3, height, width }, grid.shape);
        Assert.Equal(StatedSampleHits, result.Lines.Count(l => l.Contains(" predicted ", StringComparison.Ordinal) && !l.EndsWith("wrong", StringComparison.Ordinal)));
        // The image part's summary (the text demo's prompts follow it).
        Assert.Single(result.Lines, l => l.StartsWith($"Accuracy on the 12 samples: {StatedSampleHits}/12", StringComparison.Ordinal));
        // Every heatmap cell holds a picture, not a blank: the grid has many distinct colors.
        Tensor pixels = (grid.mul(Scalars.Of(255))).round().to(ScalarType.Int64);
        Tensor packed = pixels[0].mul(Scalars.Of(65536)).add(pixels[1].mul(Scalars.Of(256)), Scalars.One).add(pixels[2], Scalars.One);
        Assert.True(packed.unique().Item1.shape[0] > 500);
    }

    [Fact]
    public void DemoVitNamesTheShippedVisionTransformer()
    {
        using ExplainModel model = ExplainModel.Load(ExplainModel.DemoVitName, demoFolder: Folder);
        VisionTransformer vit = Assert.IsType<VisionTransformer>(model.Module);
        Assert.Equal(DemoVisionTransformer.Options, vit.Options);
        Assert.Equal(DemoModel.Transform, model.Transform);
        Assert.Equal(10, model.ClassNames!.Count);
    }
}
