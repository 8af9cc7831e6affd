using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>Helpers to walk and describe a module tree.</summary>
public static class ModuleTree
{
    /// <summary>
    /// The module itself (named <c>""</c>) followed by all of its descendants with dotted names, in registration
    /// order, as PyTorch's <c>named_modules</c> lists them.
    /// </summary>
    public static IEnumerable<(string Name, nn.Module Module)> NamedModulesWithRoot(this nn.Module root)
    {
        yield return ("", root);
        foreach (var (name, module) in root.named_modules())
        {
            yield return (name, module);
        }
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
