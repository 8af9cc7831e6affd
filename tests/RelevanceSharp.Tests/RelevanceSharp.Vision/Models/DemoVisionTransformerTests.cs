using RelevanceSharp.Attribution;
using RelevanceSharp.Core;
using RelevanceSharp.Vision.Data;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Models;

/// <summary>
/// The demo vision transformer that ships in <c>assets/demo</c>: its weights load into the architecture its options
/// describe, it classifies Fashion-MNIST test images at least as well as the README says, and AttnLRP, CP-LRP and
/// attention rollout give finite, non-blank heatmaps of the shipped samples.
/// </summary>
public sealed class DemoVisionTransformerTests
{
    /// <summary>The test-set accuracy the README states for the shipped weights, in percent with two decimals.</summary>
    private const double StatedAccuracy = 83.65;

    private static readonly string Folder = Path.Combine(TestPaths.RepositoryRoot, "assets", "demo");

    private static Tensor SampleInput()
    {
        ImageTransform transform = DemoModel.Transform;
        var pictures = DemoModel.Samples(Folder)
            .Select(s => ImageTransforms.Prepare(ImageIO.Load(s.Path, transform.Grayscale, transform.MaxPixels), transform)).ToList();
        return ImageTransforms.Normalize(stack(pictures), transform.Mean, transform.Std);
    }

    [Fact]
    public void ShippedWeightsAreSmallAndLoadIntoTheDemoArchitecture()
    {
        string path = Path.Combine(Folder, DemoVisionTransformer.WeightsFile);
        Assert.True(new FileInfo(path).Length < 1_000_000);
        using VisionTransformer model = DemoVisionTransformer.Load(Folder);
        Assert.False(model.training);
        Assert.Equal(1, model.ConvProj.weight.shape[1]);
        Assert.Equal(new long[] { 1, 17, 32 }, model.PosEmbedding.shape);
        // Trained weights, not the initialization (torchvision's starts the head at zero).
        using var scope = NewDisposeScope();
        Assert.True(model.state_dict()["heads.head.weight"].abs().max().item<float>() > 0.01f);
    }

    [Fact]
    public void ClassifiesMostShippedSamples()
    {
        using var scope = NewDisposeScope();
        using VisionTransformer model = DemoVisionTransformer.Load(Folder);
        var samples = DemoModel.Samples(Folder);
        long[] predicted;
        using (no_grad())
        {
            predicted = model.call(SampleInput()).argmax(1).data<long>().ToArray();
        }
        int hits = samples.Where((s, i) => s.Label == predicted[i]).Count();
        Assert.True(hits >= 9, $"{hits}/12 samples classified correctly");
    }

    [SkippableFact]
    public void ReachesTheStatedAccuracyOnTheTestSet()
    {
        Skip.IfNot(Directory.Exists(FashionMnist.DebianFolder),
            $"the Fashion-MNIST test set is not installed at {FashionMnist.DebianFolder} (apt-get install dataset-fashion-mnist, or run ./test.sh)");
        using var scope = NewDisposeScope();
        FashionMnist test = FashionMnist.Load(FashionMnist.DebianFolder, train: false);
        using VisionTransformer model = DemoVisionTransformer.Load(Folder);
        double accuracy = DemoModel.Evaluate(model, test) * 100;
        Assert.True(accuracy >= 80.0, $"test accuracy {accuracy:F2} %");
        Assert.Equal(StatedAccuracy, accuracy, 2);
    }

    [Theory]
    [InlineData("gradient", "attnlrp")]
    [InlineData("gradient", "cp_lrp")]
    [InlineData("attention_rollout", null)]
    public void ExplainsTheSamplesWithFiniteNonBlankHeatmaps(string method, string? composite)
    {
        using var scope = NewDisposeScope();
        using VisionTransformer model = DemoVisionTransformer.Load(Folder);
        Tensor input = SampleInput();
        Attributor attributor = AttributionSpec.Create(method, composite: composite)
            .CreateAttributor(model, AttributionContext.ForInputs(DemoModel.InputBounds));
        long[] predicted;
        using (no_grad())
        {
            predicted = model.call(input).argmax(1).data<long>().ToArray();
        }
        using AttributionResult result = attributor.Attribute(input, attributor.ClassTarget(predicted));
        Tensor relevance = result.Relevance;
        Assert.Equal(input.shape, relevance.shape);
        Assert.True(relevance.isfinite().all().item<bool>(), "non-finite relevance");
        // Every sample's heatmap varies over the image (a blank or constant map would not).
        Tensor spread = relevance.flatten(1).std(1);
        Assert.True(spread.gt(Scalars.Of(0.0)).all().item<bool>(), "a sample's relevance is constant");
    }
}
