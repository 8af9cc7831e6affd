using System.Text;
using RelevanceSharp.Canonizers;

namespace RelevanceSharp.Composites;

/// <summary>
/// A composite named in text, with its arguments and canonizers: <c>name[(argument=value,...)][+canonizer...]</c>, for
/// example <c>epsilon_gamma_box(gamma=0.5,low=-3,high=3)+densenet_seq_thresh</c>. The one text form the library,
/// <c>relevance explain --composite</c> and <c>relevance evaluate --config</c> share. Values follow
/// <see cref="ArgumentReader.Parse"/> (numbers, <c>true</c>/<c>false</c>, lists in brackets); the canonizer
/// <c>none</c> stands for no canonizer.
/// </summary>
/// <param name="Name">The composite's name, in lower case.</param>
/// <param name="Arguments">Arguments as <c>name=value</c>.</param>
/// <param name="Canonizers">Canonizer names, in the order they are applied.</param>
public sealed record CompositeSpec(string Name, IReadOnlyList<string> Arguments, IReadOnlyList<string> Canonizers)
{
    /// <summary>Reads the text form; checks its structure, not whether the names exist.</summary>
    /// <exception cref="ArgumentException">The text is malformed.</exception>
    public static CompositeSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<string> parts = SplitTopLevel(text.Trim(), '+', text);
        var (name, arguments) = NameAndArguments(parts[0], text);
        return new CompositeSpec(name, arguments, CanonizerNames(parts.Skip(1)));
    }

    /// <summary>
    /// Reads <c>name[(argument=value,...)]</c>: the name in lower case and the arguments as given (trimmed);
    /// <paramref name="whole"/> is the text it came from, for messages.
    /// </summary>
    internal static (string Name, IReadOnlyList<string> Arguments) NameAndArguments(string head, string whole)
    {
        var arguments = new List<string>();
        int open = head.IndexOf('(', StringComparison.Ordinal);
        if (open >= 0)
        {
            if (!head.TrimEnd().EndsWith(')'))
            {
                throw new ArgumentException($"Configuration '{whole}': the arguments of '{head[..open].Trim()}' must end with ')'.");
            }
            string inside = head.TrimEnd()[(open + 1)..^1];
            if (inside.Trim().Length > 0)
            {
                arguments.AddRange(SplitTopLevel(inside, ',', whole).Select(a => a.Trim()));
            }
            head = head[..open];
        }
        string name = head.Trim().ToLowerInvariant();
        if (name.Length == 0)
        {
            throw new ArgumentException($"Configuration '{whole}' names no method.");
        }
        return (name, arguments);
    }

    /// <summary>Canonizer names as written after '+': trimmed, in lower case, without <c>none</c> (no canonizer).</summary>
    internal static IReadOnlyList<string> CanonizerNames(IEnumerable<string> parts) =>
        parts.Select(p => p.Trim().ToLowerInvariant()).Where(c => c != "none").ToList();

    /// <summary>
    /// Builds the composite from the registries, with <paramref name="moreArguments"/> and
    /// <paramref name="moreCanonizers"/> after the spec's own (as <c>--arg</c> and <c>--canonizer</c> add them).
    /// </summary>
    /// <exception cref="ArgumentException">A name is unknown, or an argument unknown, missing or malformed.</exception>
    public Composite Create(IEnumerable<string>? moreArguments = null, IEnumerable<string>? moreCanonizers = null) =>
        CompositeRegistry.Create(Name, ArgumentReader.Parse(Arguments.Concat(moreArguments ?? [])),
            Canonizers.Concat(moreCanonizers ?? []).Select(CanonizerRegistry.Create).ToArray());

    /// <summary>The text form, which <see cref="Parse"/> reads back.</summary>
    public override string ToString()
    {
        var text = new StringBuilder(Name);
        if (Arguments.Count > 0)
        {
            text.Append('(').Append(string.Join(",", Arguments)).Append(')');
        }
        foreach (string canonizer in Canonizers)
        {
            text.Append('+').Append(canonizer);
        }
        return text.ToString();
    }

    // Splits at separators outside parentheses and brackets; every piece must be non-empty.
    internal static List<string> SplitTopLevel(string text, char separator, string whole)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is '(' or '[')
            {
                depth++;
            }
            else if (c is ')' or ']')
            {
                depth--;
                if (depth < 0)
                {
                    throw new ArgumentException($"Configuration '{whole}' has an unmatched '{c}'.");
                }
            }
            else if (c == separator && depth == 0)
            {
                parts.Add(text[start..i]);
                start = i + 1;
            }
        }
        if (depth != 0)
        {
            throw new ArgumentException($"Configuration '{whole}' has an unclosed parenthesis or bracket.");
        }
        parts.Add(text[start..]);
        if (parts.Any(p => p.Trim().Length == 0))
        {
            throw new ArgumentException($"Configuration '{whole}' has an empty part.");
        }
        return parts;
    }
}
