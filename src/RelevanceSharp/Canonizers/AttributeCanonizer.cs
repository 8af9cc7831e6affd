using System.Reflection;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// Overwrites properties of modules for as long as it is applied, and puts every old value back on removal (zennit's
/// <c>AttributeCanonizer</c>). The function is called for the model (name <c>""</c>) and every descendant and returns
/// the properties to set on that module (name to value), or <c>null</c> to leave it alone: for example a switch that
/// routes a residual block's addition through a <see cref="Layers.Add"/> module (as the README's walk-through and
/// samples/CustomRules do), or a replacement of a function the module's forward calls. Only public writable instance properties are set, each to a value of its type; anything
/// else is refused before the model changes.
/// </summary>
public sealed class AttributeCanonizer : ICanonizer
{
    private readonly Func<string, nn.Module, IReadOnlyDictionary<string, object?>?> attributes;

    /// <summary>Creates the canonizer.</summary>
    /// <param name="name">The name it is known by (in messages and registries).</param>
    /// <param name="attributes">The properties to set per module, or <c>null</c> for none.</param>
    public AttributeCanonizer(string name, Func<string, nn.Module, IReadOnlyDictionary<string, object?>?> attributes)
    {
        Name = string.IsNullOrWhiteSpace(name) ? throw new ArgumentException("A canonizer needs a name.", nameof(name)) : name;
        this.attributes = attributes ?? throw new ArgumentNullException(nameof(attributes));
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public IDisposable Apply(nn.Module<Tensor, Tensor> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        // Everything is checked first, so that a bad entry leaves the model untouched.
        var changes = new List<(nn.Module Module, PropertyInfo Property, object? Value)>();
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        foreach (var (name, module) in model.NamedModulesWithRoot())
        {
            if (!seen.Add(module) || attributes(name, module) is not { } wanted)
            {
                continue;
            }
            foreach (var (property, value) in wanted)
            {
                PropertyInfo? info = module.GetType().GetProperty(property, BindingFlags.Public | BindingFlags.Instance);
                string where = $"'{(name.Length == 0 ? "(the model)" : name)}' ({module.GetType().Name})";
                if (info is null || !info.CanWrite || info.SetMethod is not { IsPublic: true } || info.GetIndexParameters().Length > 0)
                {
                    throw new ArgumentException($"Canonizer '{Name}': {where} has no public settable property '{property}'.");
                }
                bool fits = value is null
                    ? !info.PropertyType.IsValueType || Nullable.GetUnderlyingType(info.PropertyType) is not null
                    : info.PropertyType.IsInstanceOfType(value);
                if (!fits)
                {
                    throw new ArgumentException(
                        $"Canonizer '{Name}': property '{property}' of {where} is a {info.PropertyType.Name}, not {value?.GetType().Name ?? "null"}.");
                }
                changes.Add((module, info, value));
            }
        }
        var undo = new UndoStack();
        try
        {
            foreach (var (module, property, value) in changes)
            {
                object? old = property.GetValue(module);
                property.SetValue(module, value);
                undo.Push(() => property.SetValue(module, old));
            }
        }
        catch
        {
            undo.Dispose();
            throw;
        }
        return undo;
    }
}
