using RelevanceSharp.Composites;

namespace RelevanceSharp.Attribution;

/// <summary>
/// The attribution methods by name: one vocabulary for the library (<see cref="AttributionSpec"/>), <c>relevance
/// explain --method</c> and <c>relevance evaluate --config</c>. A method declares its entry beside its class
/// (<see cref="RegistryEntryAttribute"/>), so that a new method is one new file; older spellings of a name are its
/// <see cref="MethodEntry.Aliases"/>.
/// </summary>
public static class MethodRegistry
{
    /// <summary>The word that stands for "no composite" where a composite is named (<c>explain --composite none</c>).</summary>
    public const string NoComposite = "none";

    private static readonly NamedRegistry<MethodEntry> Registry = new("method", e => e.Name);

    /// <summary>All methods: those declared beside their classes, then those registered, in order.</summary>
    public static IReadOnlyList<MethodEntry> All => Registry.All;

    /// <summary>The method names, in order (without the aliases).</summary>
    public static IEnumerable<string> Names => Registry.Names;

    /// <summary>
    /// The names no composite may take: every method's name and alias, and <see cref="NoComposite"/>, since the text
    /// forms would read them as methods.
    /// </summary>
    public static IReadOnlyList<string> Reserved => [.. All.SelectMany(e => e.Aliases.Prepend(e.Name)), NoComposite];

    /// <summary>The method of a name or alias (case ignored), or <c>null</c>.</summary>
    public static MethodEntry? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Registry.Find(name)
            ?? All.FirstOrDefault(e => e.Aliases.Contains(name, StringComparer.OrdinalIgnoreCase));
    }

    /// <summary>The method of a name or alias; an unknown name throws, listing the known ones.</summary>
    /// <exception cref="ArgumentException">No method has that name.</exception>
    public static MethodEntry Get(string name) =>
        Find(name) ?? throw new ArgumentException($"Unknown method '{name}'; known methods: {string.Join(", ", Names)}.");

    /// <summary>Adds a method under a new name.</summary>
    /// <exception cref="ArgumentException">The name is not spellable, is taken by a method or a composite, or an alias is taken.</exception>
    public static void Register(MethodEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        foreach (string name in entry.Aliases.Prepend(entry.Name))
        {
            if (CompositeRegistry.Names.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"'{name}' names a composite; a method needs a name of its own.", nameof(entry));
            }
        }
        if (entry.Aliases.FirstOrDefault(a => Find(a) is not null) is { } alias)
        {
            throw new ArgumentException($"The alias '{alias}' already names a method.", nameof(entry));
        }
        Registry.Register(entry);
    }
}
