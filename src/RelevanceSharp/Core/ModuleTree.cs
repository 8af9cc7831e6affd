using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>Helpers to walk and describe a module tree.</summary>
public static class ModuleTree
{
    /// <summary>
    /// The module itself (named <c>""</c>) followed by all of its descendants with dotted names, as PyTorch's
    /// <c>named_modules</c> lists them: depth first, each module before its children, children in registration
    /// order, a module reachable under several names only once (under its first name). TorchSharp's own
    /// <c>named_modules</c> lists all children before any grandchild, which would make "the first layer" of a
    /// nested model its last.
    /// </summary>
    public static IEnumerable<(string Name, nn.Module Module)> NamedModulesWithRoot(this nn.Module root)
    {
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<(string Name, nn.Module Module)>();
        pending.Push(("", root));
        while (pending.Count > 0)
        {
            var (name, module) = pending.Pop();
            if (!seen.Add(module))
            {
                continue;
            }
            yield return (name, module);
            var children = module.named_children().ToList();
            for (int i = children.Count - 1; i >= 0; i--)
            {
                pending.Push((name.Length == 0 ? children[i].name : name + "." + children[i].name, children[i].module));
            }
        }
    }

    /// <summary>
    /// The names of <paramref name="root"/>'s modules (as <see cref="NamedModulesWithRoot"/> lists them, the root left out)
    /// nearest to <paramref name="name"/>: fewest single-character edits (insertions, deletions, substitutions; case
    /// ignored) first, ties in the model's order; at most <paramref name="count"/>. For messages about a misspelt layer.
    /// </summary>
    public static IReadOnlyList<string> ClosestNames(this nn.Module root, string name, int count = 3)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(name);
        return root.NamedModulesWithRoot()
            .Where(m => m.Name.Length > 0)
            .Select((m, order) => (m.Name, Distance: EditDistance(m.Name.ToLowerInvariant(), name.ToLowerInvariant()), Order: order))
            .OrderBy(m => m.Distance)
            .ThenBy(m => m.Order)
            .Take(Math.Max(count, 0))
            .Select(m => m.Name)
            .ToList();
    }

    // Levenshtein distance with two rows.
    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>The modules without children.</summary>
    public static IEnumerable<(string Name, nn.Module Module)> NamedLeaves(this nn.Module root) =>
        root.NamedModulesWithRoot().Where(entry => !entry.Module.children().Any());

    /// <summary>A short description of a module for messages, e.g. <c>Conv2d(3 -> 8)</c>.</summary>
    /// <remarks>
    /// Not called <c>GetName</c>: TorchSharp's <c>Module.GetName()</c> instance method would always win over an
    /// extension method of that name, and messages would say <c>Conv2d</c> instead of <c>Conv2d(3 -> 8)</c>.
    /// </remarks>
    public static string Describe(this nn.Module module) => module switch
    {
        TorchSharp.Modules.Linear linear => $"Linear({linear.in_features} -> {linear.out_features})",
        TorchSharp.Modules.Convolution conv => $"{module.GetType().Name}({conv.in_channels} -> {conv.out_channels})",
        TorchSharp.Modules.BatchNorm bn => $"{module.GetType().Name}({bn.num_features})",
        _ => module.GetType().Name,
    };

    /// <summary>All parameters and buffers of a module tree by their state-dict names.</summary>
    public static IEnumerable<(string Name, Tensor Tensor)> NamedTensors(this nn.Module root)
    {
        foreach (var (name, parameter) in root.named_parameters())
        {
            yield return (name, parameter);
        }
        foreach (var (name, buffer) in root.named_buffers())
        {
            yield return (name, buffer);
        }
    }
}
