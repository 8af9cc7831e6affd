using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using TorchSharp;

namespace RelevanceSharp.Composites;

/// <summary>A rule for every module of a kind; the first matching entry wins.</summary>
public class LayerMapComposite : Composite
{
    /// <summary>Creates the composite.</summary>
    public LayerMapComposite(IEnumerable<(ModuleMatcher Kind, Rule Rule)> layerMap, IEnumerable<ICanonizer>? canonizers = null)
        : base(canonizers)
    {
        LayerMap = layerMap.ToArray();
    }

    /// <summary>The (kind, rule) entries, searched in order.</summary>
    public IReadOnlyList<(ModuleMatcher Kind, Rule Rule)> LayerMap { get; }

    /// <inheritdoc />
    public override Rule? MapModule(IDictionary<string, object> context, string name, torch.nn.Module module) =>
        FirstMatch(LayerMap, module);

    /// <summary>The rule of the first entry whose kind matches the module.</summary>
    protected static Rule? FirstMatch(IEnumerable<(ModuleMatcher Kind, Rule Rule)> map, torch.nn.Module module)
    {
        foreach (var (kind, rule) in map)
        {
            if (kind.Matches(module))
            {
                return rule;
            }
        }
        return null;
    }
}

/// <summary>
/// Like <see cref="LayerMapComposite"/>, but the first module (in registration order) that matches an entry of
/// <see cref="FirstMap"/> gets that rule instead.
/// </summary>
public class SpecialFirstLayerMapComposite : LayerMapComposite
{
    private const string FirstVisited = "first_layer_visited";

    /// <summary>Creates the composite.</summary>
    public SpecialFirstLayerMapComposite(
        IEnumerable<(ModuleMatcher Kind, Rule Rule)> layerMap,
        IEnumerable<(ModuleMatcher Kind, Rule Rule)> firstMap,
        IEnumerable<ICanonizer>? canonizers = null)
        : base(layerMap, canonizers)
    {
        FirstMap = firstMap.ToArray();
    }

    /// <summary>The entries for the first matching layer.</summary>
    public IReadOnlyList<(ModuleMatcher Kind, Rule Rule)> FirstMap { get; }

    /// <inheritdoc />
    public override Rule? MapModule(IDictionary<string, object> context, string name, torch.nn.Module module)
    {
        if (!context.ContainsKey(FirstVisited))
        {
            Rule? first = FirstMatch(FirstMap, module);
            if (first is not null)
            {
                context[FirstVisited] = true;
                return first;
            }
        }
        return base.MapModule(context, name, module);
    }
}

/// <summary>A rule for modules given by name.</summary>
public class NameMapComposite : Composite
{
    /// <summary>Creates the composite.</summary>
    public NameMapComposite(IEnumerable<(IReadOnlyCollection<string> Names, Rule Rule)> nameMap, IEnumerable<ICanonizer>? canonizers = null)
        : base(canonizers)
    {
        NameMap = nameMap.ToArray();
    }

    /// <summary>The (names, rule) entries, searched in order.</summary>
    public IReadOnlyList<(IReadOnlyCollection<string> Names, Rule Rule)> NameMap { get; }

    /// <inheritdoc />
    public override Rule? MapModule(IDictionary<string, object> context, string name, torch.nn.Module module)
    {
        foreach (var (names, rule) in NameMap)
        {
            if (names.Contains(name))
            {
                return rule;
            }
        }
        return null;
    }
}

/// <summary>Rules by name first, then by layer kind.</summary>
public class NameLayerMapComposite : MixedComposite
{
    /// <summary>Creates the composite.</summary>
    public NameLayerMapComposite(
        IEnumerable<(IReadOnlyCollection<string> Names, Rule Rule)> nameMap,
        IEnumerable<(ModuleMatcher Kind, Rule Rule)> layerMap,
        IEnumerable<ICanonizer>? canonizers = null)
        : base(new Composite[] { new NameMapComposite(nameMap), new LayerMapComposite(layerMap) }, canonizers)
    {
    }
}

/// <summary>
/// Combines composites: each module gets the rule of the first composite that assigns one. The canonizers given
/// here are applied first, then those of the parts, in order.
/// </summary>
public class MixedComposite : Composite
{
    /// <summary>Creates the composite.</summary>
    public MixedComposite(IEnumerable<Composite> composites, IEnumerable<ICanonizer>? canonizers = null)
        : this(composites.ToArray(), canonizers)
    {
    }

    private MixedComposite(Composite[] composites, IEnumerable<ICanonizer>? canonizers)
        : base((canonizers ?? Array.Empty<ICanonizer>()).Concat(composites.SelectMany(c => c.Canonizers)))
    {
        Parts = composites;
    }

    /// <summary>The composites, in order of precedence.</summary>
    public IReadOnlyList<Composite> Parts { get; }

    /// <inheritdoc />
    public override Rule? MapModule(IDictionary<string, object> context, string name, torch.nn.Module module)
    {
        for (int i = 0; i < Parts.Count; i++)
        {
            // Each part keeps its own context, as if it were registered alone.
            string key = "mixed_part_" + i;
            if (!context.TryGetValue(key, out object? partContext))
            {
                partContext = new Dictionary<string, object>();
                context[key] = partContext;
            }
            Rule? rule = Parts[i].MapModule((IDictionary<string, object>)partContext, name, module);
            if (rule is not null)
            {
                return rule;
            }
        }
        return null;
    }
}
