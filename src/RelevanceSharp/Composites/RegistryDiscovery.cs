using System.Reflection;

namespace RelevanceSharp.Composites;

/// <summary>
/// Finds the properties marked <see cref="RegistryEntryAttribute"/> in RelevanceSharp and every assembly that references
/// it: those loaded, those they reference (so that a program knows the entries of every library it was built with,
/// whether or not it has touched one of their types yet), and those loaded later. Each is scanned once, when a
/// registry is next read.
/// </summary>
internal static class RegistryDiscovery
{
    private static readonly object Gate = new();
    private static readonly Queue<Assembly> Pending = new();
    private static readonly HashSet<Assembly> Seen = [];
    private static readonly List<(int Order, PropertyInfo Property)> Found = [];
    private static readonly string CoreName = typeof(RegistryDiscovery).Assembly.GetName().Name!;

    static RegistryDiscovery()
    {
        // Subscribe before listing, so that no assembly loaded in between is missed (a duplicate is seen once).
        AppDomain.CurrentDomain.AssemblyLoad += (_, e) =>
        {
            lock (Gate)
            {
                Pending.Enqueue(e.LoadedAssembly);
            }
        };
        lock (Gate)
        {
            foreach (Assembly assembly in AppDomain.CurrentDomain.GetAssemblies())
            {
                Pending.Enqueue(assembly);
            }
        }
    }

    /// <summary>Every declared entry of type <typeparamref name="T"/>, by order and then by name.</summary>
    public static IReadOnlyList<T> Entries<T>(Func<T, string> nameOf) where T : class
    {
        List<(int Order, PropertyInfo Property)> properties;
        lock (Gate)
        {
            while (Pending.TryDequeue(out Assembly? assembly))
            {
                if (Seen.Add(assembly) && Declares(assembly))
                {
                    Found.AddRange(Scan(assembly));
                    foreach (Assembly referenced in References(assembly))
                    {
                        Pending.Enqueue(referenced);
                    }
                }
            }
            properties = Found.Where(f => typeof(T).IsAssignableFrom(f.Property.PropertyType)).ToList();
        }
        // The values are read outside the lock: reading one runs its class's static constructor.
        return properties
            .Select(p => (p.Order, Value: p.Property.GetValue(null) as T
                ?? throw new InvalidOperationException($"The registry entry {p.Property.DeclaringType?.FullName}.{p.Property.Name} is null.")))
            .OrderBy(p => p.Order)
            .ThenBy(p => nameOf(p.Value), StringComparer.Ordinal)
            .Select(p => p.Value)
            .ToList();
    }

    // The assemblies an assembly references that can be loaded (their metadata only; nothing in them runs).
    private static IEnumerable<Assembly> References(Assembly assembly)
    {
        foreach (AssemblyName name in assembly.GetReferencedAssemblies())
        {
            Assembly? loaded = null;
            try
            {
                loaded = Assembly.Load(name);
            }
            catch (Exception ex) when (ex is FileNotFoundException or FileLoadException or BadImageFormatException)
            {
                // Not shipped with the program: it declares nothing the program can use.
            }
            if (loaded is not null)
            {
                yield return loaded;
            }
        }
    }

    private static bool Declares(Assembly assembly) =>
        !assembly.IsDynamic && (assembly.GetName().Name == CoreName || assembly.GetReferencedAssemblies().Any(a => a.Name == CoreName));

    private static IEnumerable<(int, PropertyInfo)> Scan(Assembly assembly)
    {
        Type?[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException ex)
        {
            types = ex.Types;
        }
        foreach (Type type in types.OfType<Type>())
        {
            foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                if (property.GetCustomAttribute<RegistryEntryAttribute>() is { } entry)
                {
                    yield return (entry.Order, property);
                }
            }
        }
    }
}
