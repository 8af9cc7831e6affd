using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
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

/// <summary>The README's registration example runs as written.</summary>
public sealed class ReadmeRegistrationExampleTests
{
    [Fact]
    public void TheRegistrationExampleRegistersAndBuilds()
    {
        if (!CompositeRegistry.Names.Contains("my_flat_epsilon"))
        {
            var epsilon = new ArgumentSpec("epsilon", "number", "0.5", "Epsilon of every dense layer.");
            CompositeRegistry.Register(new CompositeEntry("my_flat_epsilon", "Epsilon on dense layers, Flat on convolutions.", [epsilon],
                (args, canonizers) => new LayerMapComposite([(LayerTypes.Dense, new RelevanceSharp.Rules.Epsilon(args.Number(epsilon))), (LayerTypes.Convolution, new RelevanceSharp.Rules.Flat())], canonizers)));
            CanonizerRegistry.Register(new CanonizerEntry("my_vgg", "VGG's canonizer under another name.",
                () => new CompositeCanonizer("my_vgg", new SequentialMergeBatchNorm())));
        }
        Composite composite = CompositeSpec.Parse("my_flat_epsilon(epsilon=0.2)+my_vgg").Create();
        Assert.Equal("my_vgg", Assert.Single(composite.Canonizers).Name);
    }
}
