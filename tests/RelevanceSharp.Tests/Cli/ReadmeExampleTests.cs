using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Imaging;
using RelevanceSharp.IO;
using RelevanceSharp.Models;

namespace RelevanceSharp.Tests.Cli;

/// <summary>The README's ten lines of library code run as written (with a smaller model and files of the test's own).</summary>
public sealed class ReadmeExampleTests : IClassFixture<Resnet18Weights>, IDisposable
{
    private readonly Resnet18Weights weights;
    private readonly CliWorkspace work = new();

    public ReadmeExampleTests(Resnet18Weights weights) => this.weights = weights;

    public void Dispose() => work.Dispose();

    [Fact]
    public void TheLibraryExampleWritesAHeatmapOfTheInputSize()
    {
        string image = work.Image("cat.png", 300, 260, seed: 11);
        string heatmap = work.PathOf("cat.heatmap.png");

        var model = ModelZoo.Create("resnet18", 10);
        Checkpoint.Load(model, weights.Path18);
        var input = ImageIO.LoadInput(image, ImageTransform.ImageNet());
        var composite = CompositeRegistry.Create("epsilon_plus_flat", canonizers: [CanonizerRegistry.Create("resnet")]);
        using var result = new Gradient(model, composite).Attribute(input, AttributionTarget.Predicted);
        ImageIO.SavePng(heatmap, Heatmap.Render(result.Relevance));

        Assert.Equal(new long[] { 1, 10 }, result.Output.shape);
        Assert.Equal(new long[] { 3, 224, 224 }, ImageIO.Load(heatmap).shape);
        model.Dispose();
    }
}
