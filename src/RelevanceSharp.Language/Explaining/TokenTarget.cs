namespace RelevanceSharp.Language.Explaining;

/// <summary>
/// Which next token is explained: the one the model predicts, a token id, or the first token of a text as it continues
/// the prompt (<c>" Paris"</c> after <c>"The capital of France is"</c>; needs a tokenizer).
/// </summary>
public sealed class TokenTarget
{
    private TokenTarget(int? id, string? text)
    {
        TokenId = id;
        Text = text;
    }

    /// <summary>The token the model gives the highest logit at the explained position.</summary>
    public static TokenTarget Predicted { get; } = new(null, null);

    /// <summary>A token id.</summary>
    public static TokenTarget Id(int id) => id >= 0
        ? new TokenTarget(id, null)
        : throw new ArgumentOutOfRangeException(nameof(id), id, "A token id is not negative.");

    /// <summary>The first token of <paramref name="text"/> as a continuation of the prompt.</summary>
    public static TokenTarget FromText(string text) => string.IsNullOrEmpty(text)
        ? throw new ArgumentException("The target text is empty.", nameof(text))
        : new TokenTarget(null, text);

    /// <summary>
    /// Reads a command-line value: an integer is a token id, anything else a text (so <c>" Paris"</c> or
    /// <c>Paris</c>); <c>#12</c> forces the id reading and <c>'12'</c> (in quotes) the text reading.
    /// </summary>
    public static TokenTarget Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length > 1 && value[0] == '#' && int.TryParse(value.AsSpan(1), System.Globalization.NumberStyles.None, null, out int forced))
        {
            return Id(forced);
        }
        if (int.TryParse(value, System.Globalization.NumberStyles.None, null, out int id))
        {
            return Id(id);
        }
        if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'')
        {
            return FromText(value[1..^1]);
        }
        return FromText(value);
    }

    /// <summary>The id, for a target given by id.</summary>
    public int? TokenId { get; }

    /// <summary>The text, for a target given as text.</summary>
    public string? Text { get; }

    /// <inheritdoc />
    public override string ToString() => TokenId is { } id ? $"token {id}" : Text is { } text ? $"\"{text}\"" : "the predicted token";
}
