using RelevanceSharp.Composites;

namespace RelevanceSharp.Canonizers;

/// <summary>A named canonizer.</summary>
public sealed record CanonizerEntry(string Name, string Description, Func<ICanonizer> Create);

/// <summary>The named canonizers.</summary>
public static class CanonizerRegistry
{
    private static readonly NamedRegistry<CanonizerEntry> Registry = new("canonizer", e => e.Name);

    /// <summary>
    /// All named canonizers: those declared beside their classes (<see cref="RegistryEntryAttribute"/>), then those
    /// registered, in order.
    /// </summary>
    public static IReadOnlyList<CanonizerEntry> All => Registry.All;

    /// <summary>The registry names.</summary>
    public static IEnumerable<string> Names => Registry.Names;

    /// <summary>Whether a name is known.</summary>
    public static bool IsKnown(string name) => Registry.Find(name) is not null;

    /// <summary>Looks up a canonizer by name; an unknown name throws, listing the known ones.</summary>
    public static CanonizerEntry Get(string name) => Registry.Get(name);

    /// <summary>Creates a canonizer by name.</summary>
    public static ICanonizer Create(string name) => Registry.Get(name).Create();

    /// <summary>
    /// Adds a canonizer under a new name, so that <see cref="Create"/>, <c>relevance explain --canonizer</c> and
    /// <c>relevance evaluate --config</c> know it. <paramref name="entry"/>'s factory makes a fresh canonizer per use.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, has characters other than letters, digits and
    /// underscores, or is taken.</exception>
    public static void Register(CanonizerEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Registry.Register(entry);
    }
}
