using System.Text.Json;
using System.Text.Json.Nodes;
using RelevanceSharp.Language.Tokenization;

namespace RelevanceSharp.Tests.Language;

/// <summary>
/// The two tokenizer kinds against their reference implementations (Data/make_tokenizers.py: python3-sentencepiece for
/// tokenizer.model, Hugging Face's tokenizers for tokenizer.json), and the text each token covers.
/// </summary>
public class TextTokenizerTests
{
    public static TheoryData<string> Kinds() => new() { "sentencepiece", "bpe" };

    private static TextTokenizer Load(string kind) => kind == "sentencepiece"
        ? TextTokenizer.FromSentencePiece(Path.Combine(LanguageTestKit.Data, "tokenizer.model"))
        : TextTokenizer.FromTokenizerJson(Path.Combine(LanguageTestKit.Data, "tokenizer.json"));

    private static IEnumerable<(string Text, int[] Ids)> Expected(string kind)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(Path.Combine(LanguageTestKit.Data, $"expected_{kind}.json")));
        return document.RootElement.EnumerateArray()
            .Select(e => (e.GetProperty("text").GetString()!, e.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
            .ToList();
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EncodesAsTheReferenceImplementation(string kind)
    {
        TextTokenizer tokenizer = Load(kind);
        var cases = Expected(kind).ToList();
        Assert.Equal(8, cases.Count);
        foreach (var (text, ids) in cases)
        {
            Assert.Equal(ids, tokenizer.EncodeIds(text));
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void TheTokensCoverThePromptExactly(string kind)
    {
        TextTokenizer tokenizer = Load(kind);
        foreach (var (text, _) in Expected(kind))
        {
            IReadOnlyList<TextToken> tokens = tokenizer.Encode(text);
            Assert.True(tokens[0].Special);
            Assert.Equal(text, string.Concat(tokens.Where(t => !t.Special).Select(t => t.Text)));
        }
    }

    [Fact]
    public void ACharacterSplitOverByteTokensAppearsWithTheTokenThatCompletesIt()
    {
        TextTokenizer tokenizer = Load("sentencepiece");
        IReadOnlyList<TextToken> tokens = tokenizer.Encode("\u65e5");
        // <s>, the dummy prefix, then the three bytes of the character as byte-fallback tokens.
        Assert.Equal(new[] { "<s>", "", "", "", "\u65e5" }, tokens.Select(t => t.Text));
        Assert.Equal("<0xE6>", tokens[2].Piece);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ATargetTextIsTheTokenThatContinuesThePrompt(string kind)
    {
        TextTokenizer tokenizer = Load(kind);
        var (id, count) = tokenizer.ContinuationToken("The capital of France is", " Paris");
        IReadOnlyList<int> whole = tokenizer.EncodeIds("The capital of France is Paris", addBeginning: false);
        IReadOnlyList<int> prompt = tokenizer.EncodeIds("The capital of France is", addBeginning: false);
        Assert.Equal(whole[prompt.Count], id);
        Assert.Equal(whole.Count - prompt.Count, count);
        Assert.EndsWith("Paris", tokenizer.TokenText(whole[^1]), StringComparison.Ordinal);
    }

    [Fact]
    public void TheBeginningOfTextComesFromTheTemplateOrTheSettings()
    {
        Assert.Equal(416, Load("bpe").BeginningOfText);
        Assert.Equal(1, Load("sentencepiece").BeginningOfText);
        Assert.Null(TextTokenizer.FromSentencePiece(Path.Combine(LanguageTestKit.Data, "tokenizer.model"), addBos: false).BeginningOfText);
        Assert.Equal("<|begin_of_text|>", Load("bpe").TokenText(416));
    }

    [Fact]
    public void DamagedTokenizerFilesAreOneErrorNamingTheFile()
    {
        string folder = Directory.CreateTempSubdirectory("tokenizer-").FullName;
        try
        {
            string model = Path.Combine(folder, "tokenizer.model");
            File.WriteAllBytes(model, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 });
            var ex = Assert.Throws<InvalidDataException>(() => TextTokenizer.FromSentencePiece(model));
            Assert.StartsWith(model + ":", ex.Message, StringComparison.Ordinal);

            string json = Path.Combine(folder, "tokenizer.json");
            string original = File.ReadAllText(Path.Combine(LanguageTestKit.Data, "tokenizer.json"));
            JsonNode changed = JsonNode.Parse(original)!;
            changed["pre_tokenizer"]!["pretokenizers"]![1]!["type"] = "Metaspace";
            File.WriteAllText(json, changed.ToJsonString());
            ex = Assert.Throws<InvalidDataException>(() => TextTokenizer.FromTokenizerJson(json));
            Assert.StartsWith(json + ":", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Metaspace", ex.Message, StringComparison.Ordinal);
            changed = JsonNode.Parse(original)!;
            changed["model"]!["type"] = "WordPiece";
            File.WriteAllText(json, changed.ToJsonString());
            ex = Assert.Throws<InvalidDataException>(() => TextTokenizer.FromTokenizerJson(json));
            Assert.Contains("WordPiece", ex.Message, StringComparison.Ordinal);
            File.WriteAllText(json, "{\"model\": ");
            Assert.Throws<InvalidDataException>(() => TextTokenizer.FromTokenizerJson(json));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
