namespace RelevanceSharp.Composites;

/// <summary>
/// A list of named entries that users can add to (the composite, canonizer and method registries): the entries
/// declared with <see cref="RegistryEntryAttribute"/> (found in every loaded assembly that references RelevanceSharp),
/// then those registered, in order. Lookup ignores case, and a new name must be one the command line and
/// configuration strings can spell (letters, digits and underscores, starting with a letter) and not taken.
/// </summary>
internal sealed class NamedRegistry<T>(string kind, Func<T, string> nameOf) where T : class
{
    private readonly List<T> registered = [];

    /// <summary>Every entry: the declared ones, then those registered, in order.</summary>
    public IReadOnlyList<T> All
    {
        get
        {
            IReadOnlyList<T> declared = RegistryDiscovery.Entries(nameOf);
            lock (registered)
            {
                var all = declared.Concat(registered).ToList();
                if (all.GroupBy(e => nameOf(e), StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } twice)
                {
                    throw new InvalidOperationException(
                        $"The {kind} name '{twice.Key}' is declared or registered twice; every {kind} needs a name of its own.");
                }
                return all;
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
        if (!IsSpellable(name))
        {
            throw new ArgumentException($"'{name}' cannot name a {kind}: use letters, digits and underscores, starting with a letter.");
        }
        IReadOnlyList<T> declared = RegistryDiscovery.Entries(nameOf);
        lock (registered)
        {
            if (declared.Concat(registered).Any(e => string.Equals(nameOf(e), name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ArgumentException($"A {kind} named '{name}' is already registered.", nameof(entry));
            }
            registered.Add(entry);
        }
    }

    /// <summary>Whether a name can be written in the text forms: letters, digits and underscores, starting with a letter.</summary>
    public static bool IsSpellable(string name) =>
        !string.IsNullOrEmpty(name) && char.IsAsciiLetter(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
