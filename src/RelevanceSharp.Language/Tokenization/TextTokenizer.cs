using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using RelevanceSharp.IO;
using RelevanceSharp.Language.IO;

namespace RelevanceSharp.Language.Tokenization;

/// <summary>One token of an encoded text.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Piece">The token as the vocabulary spells it (<c>▁Paris</c>, <c>ĠParis</c>, <c>&lt;0x0A&gt;</c>).</param>
/// <param name="Text">The text it covers in the encoded string (<c> Paris</c>); a special token shows its own name, and a
/// token that holds only the first bytes of a character covers nothing (the character appears with the token that
/// completes it).</param>
/// <param name="Special">Whether it is a special token (beginning of text, end of text, ...) that covers no text.</param>
public sealed record TextToken(int Id, string Piece, string Text, bool Special);

/// <summary>
/// Turns text into token ids with a model folder's own tokenizer, through Microsoft.ML.Tokenizers: a SentencePiece
/// <c>tokenizer.model</c> (LLaMA 2, Mistral) or a byte-level BPE <c>tokenizer.json</c> (LLaMA 3, Qwen2: vocabulary, merges,
/// the split pattern of its pre-tokenizer, added tokens, an NFC normalizer, the beginning-of-text token its template
/// adds). Tokens come back with the text they cover, so that relevance can be shown on the prompt itself.
/// </summary>
public sealed class TextTokenizer
{
    /// <summary>The SentencePiece model file of a Hugging Face folder.</summary>
    public const string SentencePieceFile = "tokenizer.model";

    /// <summary>The tokenizer file of a Hugging Face folder.</summary>
    public const string TokenizerJsonFile = "tokenizer.json";

    /// <summary>The optional settings file of a Hugging Face folder (read for <c>add_bos_token</c>).</summary>
    public const string TokenizerConfigFile = "tokenizer_config.json";

    /// <summary>The largest tokenizer file read: 64 MiB.</summary>
    public const long MaxFileBytes = 64L << 20;

    // GPT-2's byte alphabet as Hugging Face's ByteLevel pre-tokenizer uses it: printable bytes stand for themselves,
    // the others for the characters from U+0100 on, in byte order.
    private static readonly Lazy<Dictionary<char, byte>> ByteOfCharacter = new(() =>
    {
        var kept = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range(0xA1, 0xAC - 0xA1 + 1)).Concat(Enumerable.Range(0xAE, 0xFF - 0xAE + 1)).ToHashSet();
        var map = new Dictionary<char, byte>();
        int extra = 0;
        for (int b = 0; b < 256; b++)
        {
            map[kept.Contains(b) ? (char)b : (char)(256 + extra++)] = (byte)b;
        }
        return map;
    });

    /// <summary>The character that stands for a byte in a byte-level BPE vocabulary (GPT-2's alphabet: <c>' '</c> is <c>'Ġ'</c>).</summary>
    internal static char CharacterOfByte(byte value) => ByteOfCharacter.Value.First(p => p.Value == value).Key;

    private readonly Tokenizer tokenizer;
    private readonly Dictionary<int, string> pieces;
    private readonly HashSet<int> specials;
    private readonly bool byteLevel;
    private readonly bool dummyPrefix;

    private TextTokenizer(Tokenizer tokenizer, string kind, Dictionary<int, string> pieces, HashSet<int> specials, int? bos,
        bool byteLevel, bool dummyPrefix)
    {
        this.tokenizer = tokenizer;
        Kind = kind;
        this.pieces = pieces;
        this.specials = specials;
        BeginningOfText = bos;
        this.byteLevel = byteLevel;
        this.dummyPrefix = dummyPrefix;
    }

    /// <summary>What the tokenizer is: <c>SentencePiece</c> or <c>byte-level BPE</c>.</summary>
    public string Kind { get; }

    /// <summary>The token put in front of every encoded prompt, if any.</summary>
    public int? BeginningOfText { get; }

    /// <summary>The number of ids the tokenizer can produce (vocabulary and added tokens): one more than the largest.</summary>
    public int IdCount => pieces.Count == 0 ? 0 : pieces.Keys.Max() + 1;

    /// <summary>
    /// The tokenizer of a Hugging Face folder: <c>tokenizer.model</c> when the folder has one, else a byte-level BPE
    /// <c>tokenizer.json</c>. Files are read only inside the folder.
    /// </summary>
    public static TextTokenizer Load(string folder)
    {
        string root = FolderFiles.Root(folder);
        string model = FolderFiles.Inside(root, SentencePieceFile, folder);
        string json = FolderFiles.Inside(root, TokenizerJsonFile, folder);
        bool? addBos = ReadAddBos(FolderFiles.Inside(root, TokenizerConfigFile, folder));
        if (File.Exists(model))
        {
            return FromSentencePiece(model, addBos ?? true);
        }
        if (File.Exists(json))
        {
            return FromTokenizerJson(json, addBos);
        }
        throw new FileNotFoundException($"{folder}: no tokenizer ({SentencePieceFile} or {TokenizerJsonFile}).", json);
    }

    private static bool? ReadAddBos(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        using JsonDocument document = JsonInput.Parse(InputFile.ReadAll(path, "tokenizer settings", MaxFileBytes), path);
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty("add_bos_token", out JsonElement value)
            && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : null;
    }

    /// <summary>A SentencePiece model (<c>tokenizer.model</c>), which puts its beginning-of-text token first when <paramref name="addBos"/>.</summary>
    public static TextTokenizer FromSentencePiece(string path, bool addBos = true)
    {
        byte[] bytes = InputFile.ReadAll(path, "SentencePiece model", MaxFileBytes);
        SentencePieceTokenizer sp;
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            sp = SentencePieceTokenizer.Create(stream, false, false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: not a SentencePiece model the tokenizer can read ({ex.Message.Split('\n')[0]}).", ex);
        }
        var pieces = new Dictionary<int, string>();
        foreach (var (piece, id) in sp.Vocabulary)
        {
            pieces[id] = piece;
        }
        var specials = new HashSet<int> { sp.BeginningOfSentenceId, sp.EndOfSentenceId, sp.UnknownId };
        return new TextTokenizer(sp, "SentencePiece", pieces, specials, addBos ? sp.BeginningOfSentenceId : null, byteLevel: false,
            dummyPrefix: sp.AddDummyPrefix);
    }

    /// <summary>
    /// A byte-level BPE <c>tokenizer.json</c> (LLaMA 3, Qwen2, GPT-2 style). The beginning-of-text token is the one its
    /// post-processor's template puts first, unless <paramref name="addBos"/> says otherwise.
    /// </summary>
    public static TextTokenizer FromTokenizerJson(string path, bool? addBos = null)
    {
        using JsonDocument document = JsonInput.Parse(InputFile.ReadAll(path, "tokenizer", MaxFileBytes), path);
        try
        {
            return FromTokenizerJson(document.RootElement, addBos);
        }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new InvalidDataException($"{path}: {ex.Message.TrimEnd('.')}.", ex);
        }
    }

    /// <summary>A byte-level BPE tokenizer from the text of a <c>tokenizer.json</c>.</summary>
    internal static TextTokenizer FromTokenizerJsonText(string text)
    {
        using JsonDocument document = JsonDocument.Parse(text);
        return FromTokenizerJson(document.RootElement, null);
    }

    private static TextTokenizer FromTokenizerJson(JsonElement json, bool? addBos)
    {
        JsonElement model = Property(json, "model", JsonValueKind.Object);
        string type = model.TryGetProperty("type", out JsonElement t) ? t.GetString() ?? "" : "";
        if (type != "BPE")
        {
            throw new InvalidDataException($"the tokenizer model is '{type}'; only byte-level BPE tokenizer.json files are read (give a tokenizer.model for SentencePiece models)");
        }
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in Property(model, "vocab", JsonValueKind.Object).EnumerateObject())
        {
            vocabulary[entry.Name] = entry.Value.ValueKind == JsonValueKind.Number && entry.Value.TryGetInt32(out int id) && id >= 0
                ? id
                : throw new InvalidDataException($"the vocabulary gives '{entry.Name}' the id {entry.Value.GetRawText()}");
        }
        var merges = new List<string>();
        foreach (JsonElement merge in Property(model, "merges", JsonValueKind.Array).EnumerateArray())
        {
            merges.Add(merge.ValueKind switch
            {
                JsonValueKind.String => merge.GetString()!,
                JsonValueKind.Array when merge.GetArrayLength() == 2 => $"{merge[0].GetString()} {merge[1].GetString()}",
                _ => throw new InvalidDataException($"the merge {merge.GetRawText()} is neither \"a b\" nor [\"a\", \"b\"]"),
            });
        }
        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        if (json.TryGetProperty("added_tokens", out JsonElement addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement token in addedTokens.EnumerateArray())
            {
                added[Property(token, "content", JsonValueKind.String).GetString()!] = Property(token, "id", JsonValueKind.Number).GetInt32();
            }
        }
        Regex split = SplitPattern(json);
        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(split, added.Count > 0 ? added : null),
            SpecialTokens = added.Count > 0 ? added : null,
            Normalizer = ReadNormalizer(json),
        };
        BpeTokenizer bpe = BpeTokenizer.Create(options);
        var pieces = vocabulary.ToDictionary(p => p.Value, p => p.Key);
        foreach (var (content, id) in added)
        {
            pieces[id] = content;
        }
        int? bos = TemplateFirstToken(json) is { } first && added.TryGetValue(first, out int firstId) ? firstId : null;
        if (addBos == false)
        {
            bos = null;
        }
        return new TextTokenizer(bpe, "byte-level BPE", pieces, added.Values.ToHashSet(), bos, byteLevel: true, dummyPrefix: false);
    }

    // The pre-tokenizer's split pattern: a Split with a regex (LLaMA 3, Qwen2) followed by a ByteLevel step without its
    // own regex, or a ByteLevel step that splits with GPT-2's pattern.
    private static Regex SplitPattern(JsonElement json)
    {
        const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
        JsonElement pre = Property(json, "pre_tokenizer", JsonValueKind.Object);
        IEnumerable<JsonElement> steps = Type(pre) == "Sequence" ? Property(pre, "pretokenizers", JsonValueKind.Array).EnumerateArray() : new[] { pre };
        string? pattern = null;
        bool byteLevelSeen = false;
        foreach (JsonElement step in steps)
        {
            switch (Type(step))
            {
                case "Split" when pattern is null:
                    JsonElement p = Property(step, "pattern", JsonValueKind.Object);
                    pattern = p.TryGetProperty("Regex", out JsonElement regex) ? regex.GetString()
                        : p.TryGetProperty("String", out JsonElement literal) ? Regex.Escape(literal.GetString() ?? "")
                        : null;
                    string behavior = step.TryGetProperty("behavior", out JsonElement b) ? b.GetString() ?? "" : "";
                    if (pattern is null || behavior != "Isolated" || (step.TryGetProperty("invert", out JsonElement inv) && inv.ValueKind == JsonValueKind.True))
                    {
                        throw new InvalidDataException("the pre-tokenizer's Split step is not an isolating regex split");
                    }
                    break;
                case "ByteLevel":
                    byteLevelSeen = true;
                    if (!step.TryGetProperty("use_regex", out JsonElement useRegex) || useRegex.ValueKind != JsonValueKind.False)
                    {
                        pattern ??= Gpt2;
                    }
                    if (step.TryGetProperty("add_prefix_space", out JsonElement prefix) && prefix.ValueKind == JsonValueKind.True)
                    {
                        throw new InvalidDataException("the ByteLevel pre-tokenizer adds a prefix space, which is not supported");
                    }
                    break;
                default:
                    throw new InvalidDataException($"the pre-tokenizer step '{Type(step)}' is not supported (supported: Split with a regex, ByteLevel)");
            }
        }
        if (!byteLevelSeen || pattern is null)
        {
            throw new InvalidDataException("the pre-tokenizer is not byte-level (no ByteLevel step with a split pattern)");
        }
        return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(10));
    }

    private static Normalizer? ReadNormalizer(JsonElement json)
    {
        if (!json.TryGetProperty("normalizer", out JsonElement normalizer) || normalizer.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return Type(normalizer) == "NFC"
            ? new NfcNormalizer()
            : throw new InvalidDataException($"the normalizer '{Type(normalizer)}' is not supported (supported: none, NFC)");
    }

    private static string? TemplateFirstToken(JsonElement json)
    {
        if (!json.TryGetProperty("post_processor", out JsonElement post) || post.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        IEnumerable<JsonElement> processors = Type(post) == "Sequence" && post.TryGetProperty("processors", out JsonElement list)
            ? list.EnumerateArray()
            : new[] { post };
        foreach (JsonElement processor in processors)
        {
            if (Type(processor) == "TemplateProcessing" && processor.TryGetProperty("single", out JsonElement single)
                && single.ValueKind == JsonValueKind.Array && single.GetArrayLength() > 0
                && single[0].TryGetProperty("SpecialToken", out JsonElement special)
                && special.TryGetProperty("id", out JsonElement id))
            {
                return id.GetString();
            }
        }
        return null;
    }

    private static string Type(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";

    private static JsonElement Property(JsonElement element, string name, JsonValueKind kind) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement value) && value.ValueKind == kind
            ? value
            : throw new InvalidDataException($"'{name}' is missing or not a JSON {kind.ToString().ToLowerInvariant()}");

    /// <summary>The ids of <paramref name="text"/>, with the beginning-of-text token first when <paramref name="addBeginning"/> and the tokenizer has one.</summary>
    public IReadOnlyList<int> EncodeIds(string text, bool addBeginning = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        IReadOnlyList<int> ids = tokenizer is SentencePieceTokenizer sp
            ? sp.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false)
            : tokenizer.EncodeToIds(text);
        return addBeginning && BeginningOfText is { } bos ? ids.Prepend(bos).ToArray() : ids.ToArray();
    }

    /// <summary>Encodes <paramref name="text"/> into tokens with the text each covers (see <see cref="Describe"/>).</summary>
    public IReadOnlyList<TextToken> Encode(string text, bool addBeginning = true) => Describe(EncodeIds(text, addBeginning));

    /// <summary>
    /// The tokens of a sequence of ids with the text each covers: bytes are decoded across tokens, so a character split
    /// over several byte tokens appears with the token that completes it; a SentencePiece model's dummy prefix (the
    /// space it puts before the text) is not shown.
    /// </summary>
    public IReadOnlyList<TextToken> Describe(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var result = new List<TextToken>(ids.Count);
        var pending = new List<byte>();
        bool first = true;
        foreach (int id in ids)
        {
            string piece = Piece(id);
            if (specials.Contains(id))
            {
                result.Add(new TextToken(id, piece, piece, true));
                continue;
            }
            pending.AddRange(Bytes(piece));
            string text = TakeComplete(pending);
            if (first && dummyPrefix && text.StartsWith(' '))
            {
                text = text[1..];
            }
            first = false;
            result.Add(new TextToken(id, piece, text, false));
        }
        if (pending.Count > 0 && result.Count > 0)
        {
            // Bytes of an unfinished character at the end: shown as the replacement character on the last token.
            TextToken last = result[^1];
            result[^1] = last with { Text = last.Text + "\uFFFD" };
        }
        return result;
    }

    /// <summary>The text one token stands for on its own (for a target or a predicted token).</summary>
    public string TokenText(int id) => specials.Contains(id) ? Piece(id) : Encoding.UTF8.GetString(Bytes(Piece(id)).ToArray());

    /// <summary>The vocabulary's spelling of a token id.</summary>
    public string Piece(int id) => pieces.TryGetValue(id, out string? piece)
        ? piece
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is not in the tokenizer's vocabulary.");

    /// <summary>Whether an id is a special token.</summary>
    public bool IsSpecial(int id) => specials.Contains(id);

    /// <summary>
    /// The id of the first token of <paramref name="text"/> as a continuation of <paramref name="prompt"/> (so
    /// <c>" Paris"</c> after <c>"The capital of France is"</c>), and how many tokens the text has there.
    /// </summary>
    public (int Id, int Count) ContinuationToken(string prompt, string text)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            throw new ArgumentException("The target text is empty.", nameof(text));
        }
        IReadOnlyList<int> before = EncodeIds(prompt, addBeginning: false);
        IReadOnlyList<int> after = EncodeIds(prompt + text, addBeginning: false);
        if (after.Count > before.Count && after.Take(before.Count).SequenceEqual(before))
        {
            return (after[before.Count], after.Count - before.Count);
        }
        // The text merges with the end of the prompt: take it as it encodes on its own.
        IReadOnlyList<int> alone = EncodeIds(dummyPrefix && text.StartsWith(' ') ? text[1..] : text, addBeginning: false);
        return alone.Count > 0 ? (alone[0], alone.Count) : throw new ArgumentException($"The text '{text}' encodes to no token.", nameof(text));
    }

    private IEnumerable<byte> Bytes(string piece)
    {
        if (byteLevel)
        {
            Dictionary<char, byte> map = ByteOfCharacter.Value;
            return piece.Select(c => map.TryGetValue(c, out byte b) ? b : (byte)'?');
        }
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece.EndsWith('>')
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte value))
        {
            return new[] { value };
        }
        return Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
    }

    // Decodes the complete UTF-8 characters at the front of pending and keeps the bytes of an unfinished last one.
    private static string TakeComplete(List<byte> pending)
    {
        int cut = pending.Count;
        for (int back = 1; back <= Math.Min(3, pending.Count); back++)
        {
            byte b = pending[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }
            int length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            if (length > back)
            {
                cut = pending.Count - back;
            }
            break;
        }
        string text = Encoding.UTF8.GetString(pending.GetRange(0, cut).ToArray());
        pending.RemoveRange(0, cut);
        return text;
    }

    private sealed class NfcNormalizer : Normalizer
    {
        public override string Normalize(string original) => original.Normalize(NormalizationForm.FormC);

        public override string Normalize(ReadOnlySpan<char> original) => original.ToString().Normalize(NormalizationForm.FormC);
    }
}
