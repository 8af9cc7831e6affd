using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelevanceSharp.Language.Tokenization;

namespace RelevanceSharp.Language.Demo;

/// <summary>
/// Writes the demo model's <c>tokenizer.json</c>: a byte-level BPE tokenizer (the kind LLaMA 3 and Qwen2 ship) whose
/// pre-tokenizer splits at spaces and whose merges make every word of the recall task one token (<c>pairs:</c>,
/// <c> cat=7</c>, <c> cat</c>, <c> 7</c>, <c> |</c>), with <c>&lt;|begin_of_text|&gt;</c> put in front of every prompt. Any other text
/// still encodes, byte by byte.
/// </summary>
public static class DemoTokenizer
{
    /// <summary>The beginning-of-text token.</summary>
    public const string BeginningOfText = "<|begin_of_text|>";

    /// <summary>The end-of-text token.</summary>
    public const string EndOfText = "<|end_of_text|>";

    /// <summary>The words that are single tokens.</summary>
    public static IReadOnlyList<string> Words { get; } = new[] { RecallTask.Start, RecallTask.Separator }
        .Concat(RecallTask.KeyWords.Select(k => " " + k))
        .Concat(RecallTask.KeyWords.SelectMany(k => Enumerable.Range(0, 10).Select(d => " " + k + "=" + d.ToString(System.Globalization.CultureInfo.InvariantCulture))))
        .Concat(Enumerable.Range(0, 10).Select(d => " " + d.ToString(System.Globalization.CultureInfo.InvariantCulture)))
        .ToArray();

    /// <summary>The tokenizer.json text.</summary>
    public static string Json()
    {
        var vocabulary = new JsonObject();
        var merges = new JsonArray();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        void Add(string token)
        {
            if (!ids.ContainsKey(token))
            {
                ids[token] = ids.Count;
                vocabulary[token] = ids[token];
            }
        }
        for (int b = 0; b < 256; b++)
        {
            Add(TextTokenizer.CharacterOfByte((byte)b).ToString());
        }
        foreach (string word in Words)
        {
            string symbols = string.Concat(Encoding.UTF8.GetBytes(word).Select(TextTokenizer.CharacterOfByte));
            for (int end = 2; end <= symbols.Length; end++)
            {
                string left = symbols[..(end - 1)], right = symbols[(end - 1)..end];
                if (!ids.ContainsKey(left + right))
                {
                    merges.Add(new JsonArray(left, right));
                    Add(left + right);
                }
            }
        }
        int bos = ids.Count, eos = ids.Count + 1;
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(Special(bos, BeginningOfText), Special(eos, EndOfText)),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split",
                        ["pattern"] = new JsonObject { ["Regex"] = @"\s?\S+|\s+" },
                        ["behavior"] = "Isolated",
                        ["invert"] = false,
                    },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = BeginningOfText, ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = vocabulary,
                ["merges"] = merges,
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static JsonObject Special(int id, string content) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = false,
        ["special"] = true,
    };
}
