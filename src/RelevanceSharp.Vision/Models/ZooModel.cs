using RelevanceSharp.Platform;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Vision.Models;

/// <summary>
/// Base of the model zoo's networks. Its state dict lists entries in PyTorch's order (each module's own
/// parameters, then its own persistent buffers, then its children, depth first), so that keys appear exactly as
/// in a torchvision checkpoint; TorchSharp's default lists all parameters before all buffers.
/// </summary>
public abstract class ZooModel : ExplicitModule
{
    /// <summary>Creates the module with a display name.</summary>
    protected ZooModel(string name) : base(name)
    {
    }

    /// <summary>The number of elements of all parameters (buffers not included), as PyTorch counts them.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <inheritdoc />
    public override Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null) =>
        TorchOrder.StateDict(this, destination, prefix);
}

/// <summary>
/// A module whose children are registered by name in its constructor, in torchvision's order. TorchSharp would
/// otherwise register every module-valued field again, under the field's name (for a property,
/// <c>&lt;Name&gt;k__BackingField</c>), as soon as the module becomes a child of another one.
/// </summary>
public abstract class ExplicitModule : nn.Module<Tensor, Tensor>
{
    // The CPU guard must be in force before this type runs its first convolution.
    static ExplicitModule() => CpuGuard.Ensure();

    /// <summary>Creates the module with a display name.</summary>
    protected ExplicitModule(string name) : base(name)
    {
    }

    /// <summary>Does nothing: the children are registered explicitly.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>
    /// All descendants with dotted names in PyTorch's order: depth first, each module before its children
    /// (<c>features</c>, <c>features.conv0</c>, ..., <c>classifier</c>). TorchSharp's default lists all children
    /// before any grandchild, which would change which layer counts as the first one for composites.
    /// </summary>
    public override IEnumerable<(string name, nn.Module module)> named_modules() => TorchOrder.NamedModules(this);
}

/// <summary>Layer factories shared by the zoo's networks.</summary>
internal static class ZooLayers
{
    /// <summary>
    /// A 2-d batch norm whose <c>num_batches_tracked</c> is int64 as in PyTorch: TorchSharp creates it in the
    /// requested floating-point type when a dtype is given.
    /// </summary>
    public static BatchNorm2d BatchNorm(long features, ScalarType? dtype, Device? device)
    {
        BatchNorm2d norm = nn.BatchNorm2d(features, device: device, dtype: dtype);
        if (norm.num_batches_tracked is { } counter && counter.dtype != ScalarType.Int64)
        {
            norm.num_batches_tracked = zeros(Array.Empty<long>(), dtype: ScalarType.Int64, device: counter.device);
        }
        return norm;
    }
}

/// <summary>State dicts and module lists in PyTorch's order, for any module.</summary>
public static class TorchOrder
{
    /// <summary>
    /// The parameters and persistent buffers of <paramref name="module"/> by state-dict name, in PyTorch's order:
    /// a module's own parameters, its own buffers, then each child in registration order, recursively.
    /// </summary>
    public static Dictionary<string, Tensor> StateDict(nn.Module module, Dictionary<string, Tensor>? destination = null, string? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        destination ??= new Dictionary<string, Tensor>(StringComparer.Ordinal);
        Collect(module, prefix ?? "", destination);
        return destination;
    }

    /// <summary>All descendants of <paramref name="module"/> (not the module itself) with dotted names, depth first, each module before its children.</summary>
    public static IEnumerable<(string name, nn.Module module)> NamedModules(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        foreach (var (name, child) in module.named_children())
        {
            yield return (name, child);
            foreach (var (below, descendant) in NamedModules(child))
            {
                yield return (name + "." + below, descendant);
            }
        }
    }

    private static void Collect(nn.Module module, string prefix, Dictionary<string, Tensor> destination)
    {
        if (module is Layers.IStateDictLayout layout)
        {
            // A module laid out otherwise than its parameters (an attention's joined q, k, v) lists its own entries.
            foreach (var (name, tensor) in layout.StateDictEntries())
            {
                destination.TryAdd(Join(prefix, name), tensor);
            }
            return;
        }
        foreach (var (name, parameter) in module.named_parameters(recurse: false))
        {
            destination.TryAdd(Join(prefix, name), parameter);
        }
        foreach (var (name, buffer) in module.named_buffers(recurse: false, include_nonpersistent: false))
        {
            destination.TryAdd(Join(prefix, name), buffer);
        }
        foreach (var (name, child) in module.named_children())
        {
            Collect(child, Join(prefix, name), destination);
        }
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;
}
