using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using TorchSharp;

namespace RelevanceSharp.Composites;

/// <summary>
/// A composite given by a function instead of a subclass (zennit's <c>Composite(module_map=...)</c>): called for the
/// model itself (name <c>""</c>) and every descendant in registration order, it returns the rule for that module, or
/// <c>null</c> for none. The context dictionary is shared by the calls of one registration, e.g. to treat the first
/// matching layer differently.
/// </summary>
public sealed class FunctionComposite : Composite
{
    private readonly Func<IDictionary<string, object>, string, torch.nn.Module, Rule?> map;

    /// <summary>Creates the composite from a function of the module's name and the module.</summary>
    public FunctionComposite(Func<string, torch.nn.Module, Rule?> map, IEnumerable<ICanonizer>? canonizers = null)
        : this(map is null ? throw new ArgumentNullException(nameof(map)) : (_, name, module) => map(name, module), canonizers)
    {
    }

    /// <summary>Creates the composite from a function that also sees the registration's shared context.</summary>
    public FunctionComposite(Func<IDictionary<string, object>, string, torch.nn.Module, Rule?> map, IEnumerable<ICanonizer>? canonizers = null)
        : base(canonizers)
    {
        this.map = map ?? throw new ArgumentNullException(nameof(map));
    }

    /// <inheritdoc />
    public override Rule? MapModule(IDictionary<string, object> context, string name, torch.nn.Module module) => map(context, name, module);
}
