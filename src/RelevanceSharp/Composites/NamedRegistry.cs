namespace RelevanceSharp.Composites;

/// <summary>
/// A list of named entries that users can add to (the composite and canonizer registries): lookup ignores case, and a
/// new name must be one the command line and configuration strings can spell (letters, digits and underscores,
/// starting with a letter) and not taken.
/// </summary>
internal sealed class NamedRegistry<T>(string kind, Func<T, string> nameOf, IEnumerable<T> builtIn)
{
    private readonly List<T> entries = [.. builtIn];

    /// <summary>Every entry: the built-in ones, then those registered, in order.</summary>
    public IReadOnlyList<T> All
    {
        get
        {
            lock (entries)
            {
                return entries.ToArray();
            }
        }
    }

    /// <summary>The names, in order.</summary>
    public IEnumerable<string> Names => All.Select(nameOf);

    /// <summary>The entry of a name (case ignored), or the default.</summary>
    public T? Find(string name) => All.FirstOrDefault(e => string.Equals(nameOf(e), name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The entry of a name; an unknown name throws, listing the known ones.</summary>
    public T Get(string name) =>
        Find(name) ?? throw new ArgumentException($"Unknown {kind} '{name}'; known {kind}s: {string.Join(", ", Names)}.");

    /// <summary>Adds an entry under a new, spellable name.</summary>
    public void Register(T entry)
    {
        string name = nameOf(entry);
        if (string.IsNullOrEmpty(name) || !char.IsAsciiLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"'{name}' cannot name a {kind}: use letters, digits and underscores, starting with a letter.");
        }
        lock (entries)
        {
            if (entries.Any(e => string.Equals(nameOf(e), name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ArgumentException($"A {kind} named '{name}' is already registered.", nameof(entry));
            }
            entries.Add(entry);
        }
    }
}
