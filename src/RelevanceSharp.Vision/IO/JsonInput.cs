using System.Text.Json;
using System.Text.Unicode;

namespace RelevanceSharp.IO;

/// <summary>
/// Parses JSON from untrusted bytes: the text must be valid UTF-8 (System.Text.Json accepts invalid bytes inside
/// strings and fails only when a string is read, with an exception of another type), and every problem is one
/// <see cref="InvalidDataException"/> naming the source.
/// </summary>
public static class JsonInput
{
    /// <summary>Parses <paramref name="utf8"/>; <paramref name="source"/> names it in messages.</summary>
    public static JsonDocument Parse(ReadOnlySpan<byte> utf8, string source)
    {
        if (!Utf8.IsValid(utf8))
        {
            throw new InvalidDataException($"{source}: not valid UTF-8 text");
        }
        try
        {
            return JsonDocument.Parse(utf8.ToArray());
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({ex.Message.Split('.')[0]})", ex);
        }
    }
}
