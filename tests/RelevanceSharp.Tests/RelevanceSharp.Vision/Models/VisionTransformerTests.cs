using System.Text.Json;
using RelevanceSharp.Conformance;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.IO;
using RelevanceSharp.Vision.Models;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Models;

/// <summary>torchvision's vision transformers: keys, shapes, parameter counts and float64 logits (fullsize_vit).</summary>
public class VisionTransformerTests
{
    private readonly ITestOutputHelper output;

    public VisionTransformerTests(ITestOutputHelper output) => this.output = output;

    public static TheoryData<string> FullsizeNames() => new() { "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32" };

    // torchvision's key list, written out from its definition (VisionTransformer, Encoder, EncoderBlock, MLPBlock):
    // the class token, the patch embedding, the position embedding, per block ln_1, the attention's joined input
    // projection and output projection, ln_2 and the MLP's two Linear layers, then the final norm and the head.
    private static List<(string Name, long[] Shape)> TorchvisionKeys(VisionTransformerOptions o)
    {
        long d = o.HiddenDim, m = o.MlpDim;
        var keys = new List<(string, long[])>
        {
            ("class_token", [1, 1, d]),
            ("conv_proj.weight", [d, 3, o.PatchSize, o.PatchSize]),
            ("conv_proj.bias", [d]),
            ("encoder.pos_embedding", [1, o.SequenceLength, d]),
        };
        for (int i = 0; i < o.NumLayers; i++)
        {
            string p = $"encoder.layers.encoder_layer_{i}.";
            keys.AddRange(new (string, long[])[]
            {
                (p + "ln_1.weight", [d]), (p + "ln_1.bias", [d]),
                (p + "self_attention.in_proj_weight", [3 * d, d]), (p + "self_attention.in_proj_bias", [3 * d]),
                (p + "self_attention.out_proj.weight", [d, d]), (p + "self_attention.out_proj.bias", [d]),
                (p + "ln_2.weight", [d]), (p + "ln_2.bias", [d]),
                (p + "mlp.0.weight", [m, d]), (p + "mlp.0.bias", [m]),
                (p + "mlp.3.weight", [d, m]), (p + "mlp.3.bias", [d]),
            });
        }
        keys.Add(("encoder.ln.weight", [d]));
        keys.Add(("encoder.ln.bias", [d]));
        if (o.RepresentationSize is { } r)
        {
            keys.Add(("heads.pre_logits.weight", [r, d]));
            keys.Add(("heads.pre_logits.bias", [r]));
            keys.Add(("heads.head.weight", [o.NumClasses, r]));
        }
        else
        {
            keys.Add(("heads.head.weight", [o.NumClasses, d]));
        }
        keys.Add(("heads.head.bias", [o.NumClasses]));
        return keys;
    }

    private static string Describe(IEnumerable<(string Name, long[] Shape)> keys) =>
        string.Join("\n", keys.Select(k => $"{k.Name} {string.Join(",", k.Shape)}"));

    [Theory]
    [MemberData(nameof(FullsizeNames))]
    public void TheKeyListWrittenFromTorchvisionsDefinitionIsTheReferences(string name)
    {
        FullsizeReference reference = FullsizeReference.Load(name, "fullsize_vit");

        Assert.Equal(Describe(reference.StateDict), Describe(TorchvisionKeys(VisionTransformer.Variants[name])));
    }

    [Theory]
    [MemberData(nameof(FullsizeNames))]
    [InlineData("vit_h_14")]
    public void StateDictHasTorchvisionsKeysShapesAndOrder(string name)
    {
        using ZooModel model = ModelZoo.Create(name, dtype: ScalarType.Float64, device: META);

        var actual = model.state_dict().Select(e => (e.Key, e.Value.shape));

        Assert.Equal(Describe(TorchvisionKeys(VisionTransformer.Variants[name])), Describe(actual));
    }

    [Fact]
    public void VitH14HasTorchvisionsSizes()
    {
        // torchvision's vit_h_14 without weights: image 224, patch 14, so 16 x 16 patches and 257 tokens.
        VisionTransformerOptions options = VisionTransformer.Variants["vit_h_14"];

        Assert.Equal((224L, 14L, 32L, 16L, 1280L, 5120L), (options.ImageSize, options.PatchSize, options.NumLayers, options.NumHeads, options.HiddenDim, options.MlpDim));
        Assert.Equal(257, options.SequenceLength);
        Assert.Equal(392, TorchvisionKeys(options).Count);
    }

    // Builds each architecture in float64 from the model zoo (vit_l: 304 million parameters), fills it by hash-v1 and
    // compares keys, parameter count and logits with the reference, as `relevance verify` does.
    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(FullsizeNames))]
    public void ArchitectureMatchesTorchvision(string name)
    {
        CheckResult result = FullsizeChecks.Check(TestPaths.ConformancePath("fullsize_vit", name + ".json"));

        output.WriteLine(result.ToString());
        Assert.True(result.Status == CheckStatus.Passed, result.ToString());
    }

    private static string Fixtures => Path.Combine(TestPaths.RepositoryRoot, "tests", "RelevanceSharp.Tests", "Fixtures", "vit_pth");

    private static VisionTransformer FixtureModel()
    {
        using JsonDocument spec = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures, "model.json")));
        VisionTransformer model = VisionTransformer.FromSpec(spec.RootElement);
        model.eval();
        return model;
    }

    private static (Tensor Input, double[] Logits) FixtureReference()
    {
        using JsonDocument reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures, "expected.json")));
        JsonElement root = reference.RootElement;
        float[] input = root.GetProperty("input").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        long[] shape = root.GetProperty("input_shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        return (tensor(input, shape), root.GetProperty("output").EnumerateArray().Select(v => v.GetDouble()).ToArray());
    }

    // Written by torchvision (Fixtures/vit_pth/make.py): torch.save of a VisionTransformer's state dict, with a
    // pre-logits head, and the same weights under torchvision's older MLP key names.
    [Theory]
    [InlineData("vit_torchvision.pth", false)]
    [InlineData("vit_torchvision_legacy_keys.pth", true)]
    public void TorchvisionCheckpointsLoadAndGiveTorchvisionsLogits(string file, bool legacy)
    {
        using var scope = NewDisposeScope();
        using VisionTransformer model = FixtureModel();
        var (input, logits) = FixtureReference();

        CheckpointReport report = Checkpoint.Load(model, Path.Combine(Fixtures, file));
        Tensor actual;
        using (no_grad())
        {
            actual = model.call(input).flatten();
        }

        Assert.Equal(legacy, report.Notes.Any(n => n.Contains("legacy vision-transformer key", StringComparison.Ordinal)));
        Tensor expected = tensor(logits, dtype: ScalarType.Float32);
        Assert.True((actual - expected).abs().max().item<float>() <= 1e-5 * expected.abs().max().item<float>());
    }

    [Fact]
    public void SavedStateDictsHaveTorchvisionsKeysAndLoadBack()
    {
        using var scope = NewDisposeScope();
        using VisionTransformer source = FixtureModel();
        Checkpoint.Load(source, Path.Combine(Fixtures, "vit_torchvision.pth"));
        string file = Path.Combine(Path.GetTempPath(), $"vit-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafeTensors.Save(file, source.state_dict());
            using CheckpointContents stored = Checkpoint.Read(file);
            using VisionTransformer target = FixtureModel();
            Checkpoint.Load(target, file);
            var (input, _) = FixtureReference();

            Assert.Equal(Describe(TorchvisionKeys(source.Options).OrderBy(k => k.Name, StringComparer.Ordinal)),
                Describe(stored.Tensors.Select(e => (e.Key, e.Value.shape)).OrderBy(k => k.Key, StringComparer.Ordinal)));
            using (no_grad())
            {
                Assert.Equal(0f, (source.call(input) - target.call(input)).abs().max().item<float>());
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void AnySizeBuildsFromModelJsonAlsoForGrayImages()
    {
        using var scope = NewDisposeScope();
        using JsonDocument spec = JsonDocument.Parse(
            """{"arch": "vit", "image_size": 28, "patch_size": 7, "num_layers": 2, "num_heads": 2, "hidden_dim": 16, "mlp_dim": 32, "num_classes": 10, "channels": 1}""");
        using var model = (VisionTransformer)Architectures.Build(spec.RootElement);
        Tensor images = rand(3, 1, 28, 28);

        using var result = new RelevanceSharp.Attribution.Gradient(model, new RelevanceSharp.Composites.AttnLrp()).Attribute(images, RelevanceSharp.Attribution.AttributionTarget.Predicted);

        Assert.Equal(new long[] { 3, 10 }, result.Output.shape);
        Assert.Equal(images.shape, result.Relevance.shape);
        Assert.Equal(17, model.Options.SequenceLength);
        Assert.Contains("(N, 1, 28, 28)", Assert.Throws<ArgumentException>(() => model.call(rand(1, 3, 28, 28))).Message, StringComparison.Ordinal);
        using JsonDocument missing = JsonDocument.Parse("""{"arch": "vit", "image_size": 28, "patch_size": 7}""");
        Assert.Contains("'num_layers'", Assert.ThrowsAny<Exception>(() => Architectures.Build(missing.RootElement)).Message, StringComparison.Ordinal);
    }
}
