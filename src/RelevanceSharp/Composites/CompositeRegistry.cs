using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;

namespace RelevanceSharp.Composites;

/// <summary>The named composites, as zennit's registry names them.</summary>
public static class CompositeRegistry
{
    private static readonly NamedRegistry<CompositeEntry> Registry = new("composite", e => e.Name);

    /// <summary>
    /// All named composites: those declared beside their classes (<see cref="RegistryEntryAttribute"/>), then those
    /// registered, in order.
    /// </summary>
    public static IReadOnlyList<CompositeEntry> All => Registry.All;

    /// <summary>The registry names.</summary>
    public static IEnumerable<string> Names => Registry.Names;

    /// <summary>Looks up a composite by name.</summary>
    public static CompositeEntry Get(string name) => Registry.Get(name);

    /// <summary>
    /// Adds a composite under a new name, so that <see cref="Create"/>, <c>relevance explain --composite</c> and
    /// <c>relevance evaluate --config</c> know it; its arguments are read with the same syntax as the built-in ones'.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, has characters other than letters, digits and
    /// underscores, is reserved for a method, or is taken.</exception>
    public static void Register(CompositeEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        // Names that mean a method in the text forms (explain --composite, evaluate --config) never name a composite.
        if (MethodRegistry.Reserved.Contains(entry.Name, StringComparer.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{entry.Name}' is reserved: the command line uses it for a method, not a composite.", nameof(entry));
        }
        Registry.Register(entry);
    }

    /// <summary>Creates a named composite with arguments and canonizers.</summary>
    public static Composite Create(string name, ArgumentReader? arguments = null, IEnumerable<ICanonizer>? canonizers = null)
    {
        CompositeEntry entry = Get(name);
        ArgumentReader args = arguments ?? ArgumentReader.Empty;
        Composite composite = entry.Create(args, canonizers?.ToArray() ?? Array.Empty<ICanonizer>());
        args.EnsureAllUsed($"composite '{entry.Name}'", entry.Arguments);
        return composite;
    }
}
