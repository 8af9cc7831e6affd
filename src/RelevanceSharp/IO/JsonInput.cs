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
    /// <summary>The largest JSON description file read (<c>model.json</c>, <c>cases.json</c>): 16 MiB.</summary>
    public const long MaxFileBytes = 16L << 20;

    /// <summary>
    /// Reads and parses a JSON file through <see cref="InputFile.ReadAll"/> (a regular file of at most
    /// <see cref="MaxFileBytes"/>); <paramref name="what"/> names the kind of file in messages.
    /// </summary>
    public static JsonDocument Load(string path, string what) => Parse(InputFile.ReadAll(path, what, MaxFileBytes), path);

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
