using System.Globalization;
using System.Text;

namespace RelevanceSharp.Language.Demo;

/// <summary>
/// One prompt of the key-value recall task: pairs of a key word and a digit (one token each, <c>dog=7</c>), then
/// <c>|</c> and one of the keys; the answer is that key's digit. The token that holds the answer is known: the pair of
/// the queried key.
/// </summary>
/// <param name="Text">The prompt, e.g. <c>pairs: cat=3 dog=7 owl=1 | dog</c>.</param>
/// <param name="Keys">The keys in order.</param>
/// <param name="Values">The digit of each key.</param>
/// <param name="Query">The index of the queried pair.</param>
public sealed record RecallPrompt(string Text, IReadOnlyList<string> Keys, IReadOnlyList<int> Values, int Query)
{
    /// <summary>The answer as the text that continues the prompt (<c>" 7"</c>).</summary>
    public string Answer => " " + Values[Query].ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The position of the token that holds the answer in the encoded prompt: beginning-of-text, <c>pairs:</c>, then one
    /// token per pair.
    /// </summary>
    public int AnswerPosition => 2 + Query;

    /// <summary>The position of the query (the last token).</summary>
    public int QueryPosition => 2 + Keys.Count + 1;
}

/// <summary>
/// Generates key-value recall prompts: <see cref="Pairs"/> distinct keys (three-letter animal names) with distinct
/// digits, written as pairs <c>key=digit</c>, and a query of one of the keys. A decoder can answer only by finding the
/// queried key's pair earlier in the prompt and reading its digit: the token that holds the answer is known for every
/// prompt, which makes the task a ground truth for explanations. (With key and digit as two tokens, the task needs an
/// induction circuit over two layers, which a small decoder did not learn within minutes of training on two cores.)
/// </summary>
public sealed class RecallTask
{
    /// <summary>The keys.</summary>
    public static IReadOnlyList<string> KeyWords { get; } = new[]
    {
        "cat", "dog", "owl", "fox", "bee", "elk", "ant", "cow", "pig", "rat", "bat", "yak", "emu", "eel", "hen", "ape",
    };

    /// <summary>The word the prompts start with.</summary>
    public const string Start = "pairs:";

    /// <summary>The separator before the query.</summary>
    public const string Separator = " |";

    private readonly Random random;

    /// <summary>Creates a generator.</summary>
    /// <param name="seed">The seed of the prompts.</param>
    /// <param name="pairs">Pairs per prompt, 2 to 10 (the digits of a prompt are distinct).</param>
    public RecallTask(int seed, int pairs = 6)
    {
        if (pairs is < 2 or > 10)
        {
            throw new ArgumentOutOfRangeException(nameof(pairs), pairs, "A prompt has 2 to 10 pairs (its digits are distinct).");
        }
        random = new Random(seed);
        Pairs = pairs;
    }

    /// <summary>Pairs per prompt.</summary>
    public int Pairs { get; }

    /// <summary>The number of tokens of every prompt: beginning-of-text, the start word, the pairs, separator and query.</summary>
    public int Tokens => 2 + Pairs + 2;

    /// <summary>The next <paramref name="count"/> prompts.</summary>
    public IReadOnlyList<RecallPrompt> Take(int count) => Enumerable.Range(0, count).Select(_ => Next()).ToArray();

    /// <summary>The next prompt.</summary>
    public RecallPrompt Next()
    {
        string[] keys = KeyWords.OrderBy(_ => random.Next()).Take(Pairs).ToArray();
        int[] values = Enumerable.Range(0, 10).OrderBy(_ => random.Next()).Take(Pairs).ToArray();
        int query = random.Next(Pairs);
        var text = new StringBuilder(Start);
        for (int i = 0; i < Pairs; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $" {keys[i]}={values[i]}");
        }
        text.Append(Separator).Append(' ').Append(keys[query]);
        return new RecallPrompt(text.ToString(), keys, values, query);
    }
}
