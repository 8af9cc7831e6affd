using RelevanceSharp.IO;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Cli;

/// <summary>A vit_b_32 with 10 classes and seeded weights (class token and head not zero), saved in a temporary folder.</summary>
public sealed class VitB32Weights : IDisposable
{
    public VitB32Weights()
    {
        Folder = Path.Combine(Path.GetTempPath(), "relevancesharp-cli-vit-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        Path32 = Path.Combine(Folder, "vit_b_32_10.safetensors");
        manual_seed(25);
        using ZooModel model = ModelZoo.Create("vit_b_32", 10);
        using (no_grad())
        {
            // torchvision starts with a zero class token and head, which would make every relevance zero.
            foreach (var (name, tensor) in model.state_dict().Where(e => e.Key == "class_token" || e.Key.StartsWith("heads.", StringComparison.Ordinal)))
            {
                tensor.normal_(0, 0.05);
            }
        }
        SafeTensors.Save(Path32, model.state_dict());
    }

    public string Folder { get; }

    /// <summary>The weights file, with torchvision's keys.</summary>
    public string Path32 { get; }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

/// <summary><c>relevance explain</c> with a vision transformer: AttnLRP with the conservation report, attention rollout, image sizes.</summary>
public sealed class ExplainVisionTransformerTests : IClassFixture<VitB32Weights>, IDisposable
{
    private readonly VitB32Weights weights;
    private readonly CliWorkspace work = new();

    public ExplainVisionTransformerTests(VitB32Weights weights) => this.weights = weights;

    public void Dispose() => work.Dispose();

    [Fact]
    public void AttnLrpWritesTheHeatmapAndTheConservationReport()
    {
        string image = work.Image("cat.png", 240, 260, seed: 3);

        CliResult result = CliWorkspace.Run("explain", image, "--model", "vit_b_32", "--weights", weights.Path32, "--num-classes", "10",
            "--composite", "attnlrp", "--conservation", "--output", work.Output);

        Assert.True(result.Code == 0, result.Error);
        Assert.Equal(["cat.conservation.txt", "cat.png", "manifest-0-of-1.jsonl"], CliWorkspace.Entries(work.Output));
        Assert.Contains("LRP with attnlrp", result.Output, StringComparison.Ordinal);
        string report = File.ReadAllText(Path.Combine(work.Output, "cat.conservation.txt"));
        Assert.StartsWith("conservation (sample 0): relevance at the output 1", report, StringComparison.Ordinal);
        Assert.Contains("encoder.layers.encoder_layer_11.self_attention.softmax", report, StringComparison.Ordinal);
        Assert.Contains("into encoder.pos_embedding", report, StringComparison.Ordinal);
        Assert.Contains("into class_token", report, StringComparison.Ordinal);
    }

    [Fact]
    public void AttentionRolloutSaysItsHeatmapIsAnUpsampledPatchGrid()
    {
        string image = work.Image("dog.png", 224, 224, seed: 4);

        CliResult result = CliWorkspace.Run("explain", image, "-m", "vit_b_32", "-w", weights.Path32, "--num-classes", "10",
            "--method", "attention-rollout", "--output", work.Output);

        Assert.True(result.Code == 0, result.Error);
        Assert.Contains(
            "note: attention_rollout gives one value per patch (7 x 7 patches of 32 x 32 pixels); the heatmaps show that grid upsampled to the 224 x 224 input.",
            result.Lines);
        Assert.True(File.Exists(Path.Combine(work.Output, "dog.png")));
    }

    [Theory]
    [InlineData(new[] { "--method", "attention-rollout", "--conservation" }, "--conservation follows the relevance of one backward pass")]
    [InlineData(new[] { "--method", "attention-rollout", "--composite", "attnlrp" }, "takes no composite")]
    [InlineData(new[] { "--image-size", "64" }, "weights trained on other image sizes need --image-size")]
    [InlineData(new[] { "--image-size", "100" }, "patch_size 32 does not divide its image_size 100")]
    [InlineData(new[] { "--composite", "attnlrp", "--arg", "linear_gama=0.05" }, "Unknown argument(s) 'linear_gama'")]
    public void MistakesAreOneLineErrors(string[] extra, string expected)
    {
        string image = work.Image("cat.png", 224, 224);

        CliResult result = CliWorkspace.Run(["explain", image, "-m", "vit_b_32", "-w", weights.Path32, "--num-classes", "10", "--output", work.Output, .. extra]);

        Assert.Equal(1, result.Code);
        string line = Assert.Single(result.ErrorLines, l => !l.StartsWith("note:", StringComparison.Ordinal));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Empty(CliWorkspace.Entries(work.Output));
    }

    [Theory]
    [InlineData("vit_b_16", null, 256, 224)]
    [InlineData("vit_l_16", null, 242, 224)]
    [InlineData("vit_h_14", null, 224, 224)]
    [InlineData("vit_h_14", 518L, 518, 518)]
    [InlineData("resnet50", null, 256, 224)]
    public void ImagesArePreparedAsTorchvisionPreparesThemForTheWeights(string model, long? imageSize, int size, int crop)
    {
        // torchvision's ViT_L_16_Weights.IMAGENET1K_V1 resize to 242, the SWAG weights of vit_h_14 resize and crop alike.
        var transform = RelevanceSharp.Cli.Explaining.ExplainModel.DefaultTransform(model, imageSize);

        Assert.Equal((size, crop), (transform.Size, transform.CropSize));
    }

    [Fact]
    public void AnImageSizeIsOnlyForVisionTransformers()
    {
        CliResult result = CliWorkspace.Run("explain", work.Image("cat.png", 32, 32), "-m", "resnet18", "-w", "none.pth", "--image-size", "64");

        Assert.Equal(1, result.Code);
        Assert.Contains("--image-size is for the vision transformers", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void TheListsNameTheVisionTransformersTheirCompositesAndRollout()
    {
        CliResult models = CliWorkspace.Run("models");
        CliResult composites = CliWorkspace.Run("composites");
        CliResult help = CliWorkspace.Run("explain", "--help");

        foreach (string name in new[] { "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14" })
        {
            Assert.Contains(name, models.Output, StringComparison.Ordinal);
        }
        foreach (string text in new[] { "attnlrp", "cp_lrp", "linear_gamma", "conv_gamma" })
        {
            Assert.Contains(text, composites.Output, StringComparison.Ordinal);
        }
        Assert.Contains("attention_rollout", help.Output, StringComparison.Ordinal);
        Assert.Contains("--conservation", help.Output, StringComparison.Ordinal);
    }
}
