using System.Text.Json;
using System.Text.RegularExpressions;
using RelevanceSharp.Language.Demo;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.IO;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Language.Tokenization;
using RelevanceSharp.Tests.Browser;
using RelevanceSharp.Tests.Language;
using SkiaSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Cli;

/// <summary>
/// <c>relevance explain-text</c>: the shipped demo and a Hugging Face folder from the command line, the files it writes
/// (the HTML page opened in headless Chromium), generation, and damaged folders and bad options as one error line.
/// </summary>
public sealed class ExplainTextCommandTests : IDisposable
{
    private const string Prompt = "pairs: cat=3 dog=4 owl=7 elk=1 bee=0 fox=9 | owl";

    private readonly CliWorkspace work = new();

    public void Dispose() => work.Dispose();

    private static JsonDocument Json(string path) => JsonDocument.Parse(File.ReadAllText(path));

    [Fact]
    public void ExplainsTheDemoAndWritesPageImageAndJson()
    {
        CliResult result = CliWorkspace.Run("explain-text", "--model", "demo", "--prompt", Prompt, "--output", work.Output);
        Assert.True(result.Code == 0, result.Error);
        Assert.Equal(new[] { "explanation.html", "explanation.json", "explanation.png" }, CliWorkspace.Entries(work.Output));
        // Not a terminal: plain numbers, no escape codes.
        Assert.DoesNotContain('\u001b', result.Output);
        Assert.Contains(result.Lines, l => l.StartsWith("[<|begin_of_text|>|", StringComparison.Ordinal) && l.Contains("[ owl=7|+", StringComparison.Ordinal));
        Assert.Contains(result.Lines, l => l.StartsWith("attnlrp: logit of \" 7\"", StringComparison.Ordinal));

        // The JSON holds what the library computes, and the answer's token has the largest relevance.
        using JsonDocument json = Json(Path.Combine(work.Output, "explanation.json"));
        JsonElement tokens = json.RootElement.GetProperty("tokens");
        string folder = TextDemoModel.FindFolder();
        using DecoderModel model = DecoderCheckpoint.Load(folder);
        TextExplanation expected = new TextExplainer(model, TextTokenizer.Load(folder)).Explain(Prompt, DecoderComposites.Method("attnlrp"));
        Assert.Equal(expected.Tokens.Count, tokens.GetArrayLength());
        for (int i = 0; i < expected.Tokens.Count; i++)
        {
            Assert.Equal(expected.Tokens[i].Text, tokens[i].GetProperty("token").GetString());
            Assert.Equal(expected.Tokens[i].Id, tokens[i].GetProperty("id").GetInt32());
            Assert.Equal(expected.Relevance[i], tokens[i].GetProperty("relevance").GetDouble(), 12);
        }
        Assert.Equal(" owl=7", tokens.EnumerateArray().MaxBy(t => t.GetProperty("relevance").GetDouble()).GetProperty("token").GetString());
        Assert.Equal(" 7", json.RootElement.GetProperty("target").GetProperty("text").GetString());

        using SKBitmap png = SKBitmap.Decode(Path.Combine(work.Output, "explanation.png"));
        Assert.True(png.Width == 1000 && png.Height > 80, $"{png.Width}x{png.Height}");
        // The most relevant token is drawn on pure red.
        Assert.Contains(new SKColor(255, 0, 0), png.Pixels);
    }

    [SkippableFact]
    public void ChromiumShowsTheWrittenPage()
    {
        Skip.IfNot(HeadlessChromium.Available, $"no {HeadlessChromium.Executable} (apt-get install chromium)");
        CliResult result = CliWorkspace.Run("explain-text", "--model", "demo", "--prompt", Prompt, "--output", work.Output, "--composite", "cp_lrp");
        Assert.True(result.Code == 0, result.Error);
        string dom = HeadlessChromium.DumpDom(Path.Combine(work.Output, "explanation.html"));
        MatchCollection spans = Regex.Matches(dom, "<span class=\"token[^\"]*\" data-index=\"(\\d+)\"[^>]*>([^<]*)</span>");
        Assert.Equal(10, spans.Count);
        Assert.Equal(" owl=7", spans[4].Groups[2].Value);
        Assert.Contains("cp_lrp: logit of", dom, StringComparison.Ordinal);
    }

    [Fact]
    public void ExplainsAHuggingFaceFolderWithTargetContrastAndDimensions()
    {
        using var scope = NewDisposeScope();
        string folder = work.PathOf("Tiny-Llama");
        using (DecoderModel model = ReferenceDecoder.Random(new DecoderConfig
        {
            VocabSize = 418,
            HiddenSize = 16,
            IntermediateSize = 24,
            Layers = 2,
            AttentionHeads = 4,
            KeyValueHeads = 2,
            HeadDim = 4,
        }.Validate(), 5))
        {
            HuggingFaceFolder.Write(folder, model, "BF16", 2, "tokenizer.json");
        }
        CliResult result = CliWorkspace.Run("explain-text", "--model", folder, "--prompt", "The capital of France is", "--target", " Paris",
            "--contrast", "#99", "--composite", "gradient", "--score", "log-probability", "--dimensions", "--dtype", "float64", "--output", work.Output);
        Assert.True(result.Code == 0, result.Error);
        using JsonDocument json = Json(Path.Combine(work.Output, "explanation.json"));
        JsonElement root = json.RootElement;
        Assert.Equal("gradient", root.GetProperty("method").GetString());
        Assert.Equal("log_probability", root.GetProperty("score_kind").GetString());
        Assert.Equal(" ", root.GetProperty("target").GetProperty("text").GetString());
        Assert.Equal(99, root.GetProperty("contrast").GetProperty("id").GetInt32());
        Assert.Equal(6, root.GetProperty("tokens").GetArrayLength());
        Assert.All(root.GetProperty("tokens").EnumerateArray(), t => Assert.Equal(16, t.GetProperty("dimensions").GetArrayLength()));
        Assert.Contains(result.Lines, l => l.Contains("llama, 2 layers", StringComparison.Ordinal) && l.Contains("byte-level BPE", StringComparison.Ordinal));
    }

    [Fact]
    public void GenerationWritesOneSetOfFilesPerToken()
    {
        CliResult result = CliWorkspace.Run("explain-text", "--model", "demo", "--prompt", "pairs: cat=3 dog=4 | cat", "--generate", "2",
            "--composite", "input_x_gradient", "--output", work.Output);
        Assert.True(result.Code == 0, result.Error);
        Assert.Equal(new[] { "explanation_1.html", "explanation_1.json", "explanation_1.png", "explanation_2.html", "explanation_2.json", "explanation_2.png" },
            CliWorkspace.Entries(work.Output));
        using JsonDocument second = Json(Path.Combine(work.Output, "explanation_2.json"));
        // The second step explains the next token after the first generated one, which joins the prompt.
        Assert.Equal(7, second.RootElement.GetProperty("tokens").GetArrayLength());
        Assert.Equal(" 3", second.RootElement.GetProperty("tokens")[6].GetProperty("token").GetString());
    }

    public static TheoryData<string, string> Damages() => new()
    {
        { "missing shard", "is missing" },
        { "wrong shape", "where the configuration needs [16, 16]" },
        { "parent path", "climbs out of the model folder" },
        { "absolute path", "is an absolute path" },
        { "no tokenizer", "no tokenizer (tokenizer.model or tokenizer.json)" },
        { "bad config", "num_attention_heads (4) is not a multiple of num_key_value_heads (3)" },
        { "no folder", "does not exist" },
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void ADamagedFolderIsOneErrorLine(string damage, string message)
    {
        using var scope = NewDisposeScope();
        string folder = work.PathOf("model");
        DecoderConfig config = new DecoderConfig
        {
            VocabSize = 418,
            HiddenSize = 16,
            IntermediateSize = 24,
            Layers = 1,
            AttentionHeads = 4,
            KeyValueHeads = 2,
            HeadDim = 4,
        }.Validate();
        using (DecoderModel model = ReferenceDecoder.Random(config, 2))
        {
            HuggingFaceFolder.Write(folder, model, "F16", 2, "tokenizer.json");
        }
        switch (damage)
        {
            case var shared when HuggingFaceFolder.ShardDamages.Contains(shared):
                HuggingFaceFolder.Damage(folder, shared, "model.layers.0.self_attn.q_proj.weight", "F16", name => zeros(ShapeOf(folder, name)));
                break;
            case "no tokenizer":
                File.Delete(Path.Combine(folder, "tokenizer.json"));
                break;
            case "bad config":
                File.WriteAllText(Path.Combine(folder, "config.json"), HuggingFaceFolder.ConfigJson(config with { KeyValueHeads = 3 }));
                break;
            case "no folder":
                folder = work.PathOf("nowhere");
                break;
        }
        CliResult result = CliWorkspace.Run("explain-text", "--model", folder, "--prompt", "The capital", "--output", work.Output);
        Assert.Equal(1, result.Code);
        string line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(message, line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(work.Output) && Directory.EnumerateFiles(work.Output).Any());
    }

    private static long[] ShapeOf(string folder, string key)
    {
        using DecoderModel model = new(DecoderCheckpoint.ReadConfig(folder));
        return model.ExpectedWeights()[key];
    }

    [Theory]
    [InlineData("--composite", "lrp", "'lrp'")]
    [InlineData("--position", "42", "Position 42 is outside the prompt's")]
    [InlineData("--generate", "-1", "--generate must not be negative")]
    [InlineData("--target", "#5000", "outside the vocabulary")]
    [InlineData("--dtype", "float16", "'float16'")]
    public void ABadOptionIsOneErrorLine(string option, string value, string message)
    {
        CliResult result = CliWorkspace.Run("explain-text", "--model", "demo", "--prompt", "pairs: cat=3 | cat", option, value, "--output", work.Output);
        Assert.Equal(1, result.Code);
        string line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(message, line, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainDemoWritesATextModelFolderThatExplainTextReads()
    {
        string folder = work.PathOf("text-demo");
        CliResult trained = CliWorkspace.Run("train-demo", "--model", "text", "--steps", "5", "--output", folder);
        Assert.True(trained.Code == 0, trained.Error);
        Assert.Equal(new[] { "config.json", "model.safetensors", "tokenizer.json" }, CliWorkspace.Entries(folder));
        Assert.Contains(trained.Lines, l => l.StartsWith("accuracy on 1,000 new prompts", StringComparison.Ordinal));
        CliResult explained = CliWorkspace.Run("explain-text", "--model", folder, "--prompt", "pairs: cat=3 | cat", "--output", work.Output);
        Assert.True(explained.Code == 0, explained.Error);
    }
}
