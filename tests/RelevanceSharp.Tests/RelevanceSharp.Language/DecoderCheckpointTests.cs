using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.IO;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Language.Tokenization;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Language;

/// <summary>Hugging Face folders: sharded and single safetensors in float16 and bfloat16, and damaged folders.</summary>
public sealed class DecoderCheckpointTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("hf-folder-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static DecoderConfig Config(int vocab, string type, bool tied, bool biases) => new DecoderConfig
    {
        ModelType = type,
        VocabSize = vocab,
        HiddenSize = 16,
        IntermediateSize = 24,
        Layers = 2,
        AttentionHeads = 4,
        KeyValueHeads = 2,
        HeadDim = 4,
        RmsNormEps = 1e-6,
        RopeTheta = 10000.0,
        TieWordEmbeddings = tied,
        QkvBias = biases,
        MaxPositions = 64,
    }.Validate();

    // The model as the folder stores it: every weight rounded to the file's type.
    private static DecoderModel RoundedCopy(DecoderModel model, string dtype)
    {
        var copy = new DecoderModel(model.Config, ScalarType.Float64);
        using (no_grad())
        {
            var source = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, parameter) in copy.named_parameters())
            {
                parameter.copy_(HuggingFaceFolder.Rounded(source[name], dtype));
            }
        }
        return copy;
    }

    [Theory]
    [InlineData("BF16", 3, "qwen2", true)]
    [InlineData("F16", 1, "llama", false)]
    [InlineData("F32", 2, "mistral", false)]
    public void LoadsTheFolderConvertingTheWeights(string dtype, int shards, string type, bool tied)
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = ReferenceDecoder.Random(Config(418, type, tied, type == "qwen2"), 21);
        HuggingFaceFolder.Write(folder, model, dtype, shards, "tokenizer.json");
        Assert.Equal(shards, DecoderCheckpoint.WeightFiles(folder).Count);
        using DecoderModel loaded = DecoderCheckpoint.Load(folder, ScalarType.Float64);
        using DecoderModel expected = RoundedCopy(model, dtype);
        Tensor ids = tensor(new long[] { 416, 3, 200, 17, 99 }, new long[] { 1, 5 });
        AssertClose(D(expected.Logits(ids)), D(loaded.Logits(ids)), 1e-12, "logit");
        // Rounding to the file's type changed the weights (so the check above could tell), except in float32 by little.
        double change = (model.Logits(ids) - loaded.Logits(ids)).abs().max().item<double>();
        Assert.True(dtype == "F32" ? change < 1e-5 : change > 1e-5, $"{dtype}: {change}");
        using DecoderModel single = DecoderCheckpoint.Load(folder);
        Assert.Equal(ScalarType.Float32, single.DType);
    }

    [Fact]
    public void ExplainsATextPromptFromTheFolder()
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = ReferenceDecoder.Random(Config(418, "llama", false, false), 3);
        HuggingFaceFolder.Write(folder, model, "BF16", 2, "tokenizer.json");
        using DecoderModel loaded = DecoderCheckpoint.Load(folder, ScalarType.Float64);
        var explainer = new TextExplainer(loaded, TextTokenizer.Load(folder));
        TextExplanation explanation = explainer.Explain("The capital of France is", TextMethod.Lrp("cp_lrp", LanguageTestKit.CpLrp()),
            new TextExplanationOptions(Target: TokenTarget.FromText(" Paris")));
        Assert.Equal(new[] { "<|begin_of_text|>", "The", " capital", " of", " France", " is" }, explanation.Tokens.Select(t => t.Text));
        Assert.Equal(" ", explanation.TargetText);
        // Bias-free: CP-LRP's relevance adds up to the explained logit.
        Assert.Equal(explanation.Score, explanation.Total, 6);
        Tensor logits = loaded.Logits(tensor(explanation.Tokens.Select(t => (long)t.Id).ToArray(), new long[] { 1, 6 }));
        Assert.Equal(logits[0, -1, explanation.TargetId].item<double>(), explanation.Score, 12);
    }

    [Fact]
    public void ASentencePieceFolderHonoursAddBosToken()
    {
        using DecoderModel model = ReferenceDecoder.Random(Config(400, "llama", false, false), 4);
        HuggingFaceFolder.Write(folder, model, "F16", 1, "tokenizer.model");
        Assert.Equal(1, TextTokenizer.Load(folder).EncodeIds("Paris")[0]);
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{"add_bos_token": false}""");
        Assert.NotEqual(1, TextTokenizer.Load(folder).EncodeIds("Paris")[0]);
        Assert.Equal("SentencePiece", TextTokenizer.Load(folder).Kind);
    }

    public static TheoryData<string, string> Damages() => new()
    {
        { "missing shard", "the shard 'model-00003-of-00003.safetensors' it lists is missing" },
        { "wrong shape", "model.layers.0.self_attn.q_proj.weight [24, 16] where the configuration needs [16, 16]" },
        { "parent path", "climbs out of the model folder with '..'" },
        { "absolute path", "is an absolute path" },
        { "link out", "leads out of the model folder" },
        { "wrong shard", "which the index assigns to another shard" },
        { "not in shard", "the index places 'model.norm.weight' in this shard, but it is not there" },
        { "unexpected key", "1 unexpected key(s): model.layers.0.mlp.extra.weight" },
        { "missing key", "1 missing key(s): model.norm.weight" },
        { "integer weights", "'model.norm.weight' holds Int64 values" },
        { "config too large", "too few for them at two bytes each" },
        { "truncated shard", "not a valid safetensors file" },
        { "no weights", "no model.safetensors and no model.safetensors.index.json" },
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void ADamagedFolderIsOneErrorThatNamesTheProblem(string damage, string message)
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = ReferenceDecoder.Random(Config(418, "llama", false, false), 8);
        HuggingFaceFolder.Write(folder, model, "BF16", 3, "tokenizer.json");
        Dictionary<string, string> map = HuggingFaceFolder.ReadIndex(folder);
        string shardOfNorm = map["model.norm.weight"];
        Tensor Weight(string name) => model.named_parameters().First(p => p.name == name).parameter;
        switch (damage)
        {
            case var shared when HuggingFaceFolder.ShardDamages.Contains(shared):
                HuggingFaceFolder.Damage(folder, shared, "model.layers.0.self_attn.q_proj.weight", "BF16", Weight);
                break;
            case "link out":
                string outside = Path.Combine(Path.GetTempPath(), $"outside-{Guid.NewGuid():N}.safetensors");
                File.Move(Path.Combine(folder, shardOfNorm), outside);
                File.CreateSymbolicLink(Path.Combine(folder, shardOfNorm), outside);
                try
                {
                    Check(message);
                }
                finally
                {
                    File.Delete(outside);
                }
                return;
            case "wrong shard":
                map["model.norm.weight"] = map.Values.First(v => v != shardOfNorm);
                HuggingFaceFolder.WriteIndex(folder, map);
                break;
            case "not in shard":
                HuggingFaceFolder.WriteSafeTensors(Path.Combine(folder, shardOfNorm), map.Where(e => e.Value == shardOfNorm && e.Key != "model.norm.weight")
                    .Select(e => (e.Key, "BF16", Weight(e.Key))));
                break;
            case "unexpected key":
                HuggingFaceFolder.WriteSafeTensors(Path.Combine(folder, shardOfNorm), map.Where(e => e.Value == shardOfNorm)
                    .Select(e => (e.Key, "BF16", Weight(e.Key))).Append(("model.layers.0.mlp.extra.weight", "BF16", zeros(2, 2))));
                map["model.layers.0.mlp.extra.weight"] = shardOfNorm;
                HuggingFaceFolder.WriteIndex(folder, map);
                break;
            case "missing key":
                HuggingFaceFolder.WriteSafeTensors(Path.Combine(folder, shardOfNorm), map.Where(e => e.Value == shardOfNorm && e.Key != "model.norm.weight")
                    .Select(e => (e.Key, "BF16", Weight(e.Key))));
                map.Remove("model.norm.weight");
                HuggingFaceFolder.WriteIndex(folder, map);
                break;
            case "integer weights":
                HuggingFaceFolder.WriteSafeTensors(Path.Combine(folder, shardOfNorm), map.Where(e => e.Value == shardOfNorm)
                    .Select(e => (e.Key, e.Key == "model.norm.weight" ? "I64" : "BF16", Weight(e.Key))));
                break;
            case "config too large":
                File.WriteAllText(Path.Combine(folder, "config.json"), HuggingFaceFolder.ConfigJson(model.Config with { IntermediateSize = 100_000_000 }));
                break;
            case "truncated shard":
                string path = Path.Combine(folder, shardOfNorm);
                byte[] bytes = File.ReadAllBytes(path);
                File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length - 10).ToArray());
                break;
            case "no weights":
                foreach (string file in Directory.GetFiles(folder, "model*"))
                {
                    File.Delete(file);
                }
                break;
        }
        Check(message);
    }

    private void Check(string message)
    {
        Exception ex = Assert.ThrowsAny<Exception>(() => DecoderCheckpoint.Load(folder).Dispose());
        Assert.True(ex is InvalidDataException or FileNotFoundException, $"{ex.GetType().Name}: {ex.Message}");
        Assert.True(ex.Message.Contains(message, StringComparison.Ordinal), $"'{message}' is not in: {ex.Message}");
        Assert.DoesNotContain('\n', ex.Message.TrimEnd());
    }
}
