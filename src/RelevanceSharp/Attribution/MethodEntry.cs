using RelevanceSharp.Composites;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>What a method's factory is given: the model, the composite (or none), the arguments and the default target.</summary>
/// <param name="Model">The model to attribute.</param>
/// <param name="Composite">The composite, for methods that take one; <c>null</c> for none.</param>
/// <param name="Arguments">Every declared argument with its effective value (defaults filled in).</param>
/// <param name="Target">The target of calls that give none, or <c>null</c> for the attributor's default.</param>
public sealed record MethodContext(nn.Module<Tensor, Tensor> Model, Composite? Composite, ArgumentReader Arguments, AttributionTarget? Target);

/// <summary>
/// A named attribution method: its name (and older spellings), its arguments with their defaults, and how to build
/// its attributor. Declared beside the method's class with <see cref="RegistryEntryAttribute"/> (or added with
/// <see cref="MethodRegistry.Register"/>), it is known to <see cref="AttributionSpec"/>, <c>relevance explain
/// --method</c> and <c>relevance evaluate --config</c>, and its names are reserved: no composite may take them.
/// </summary>
/// <param name="Name">The method's name (letters, digits and underscores).</param>
/// <param name="Description">What it computes, in one line.</param>
/// <param name="Arguments">The arguments it takes, each with its one default.</param>
/// <param name="Create">Builds the attributor.</param>
public sealed record MethodEntry(string Name, string Description, IReadOnlyList<ArgumentSpec> Arguments, Func<MethodContext, Attributor> Create)
{
    /// <summary>Other spellings accepted for the name (for example <c>integrated-gradients</c>); texts are written with <see cref="Name"/>.</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>
    /// Whether the method takes gradients and so a composite and canonizers (LRP's rules change the gradient); <c>false</c>
    /// for methods that only run the model forward (occlusion) or ignore it.
    /// </summary>
    public bool TakesComposite { get; init; } = true;

    /// <summary>
    /// What is computed in words, from the effective argument values (canonical text by name) and the composite's name
    /// (or <c>null</c>); by default the name with its arguments.
    /// </summary>
    public Func<IReadOnlyDictionary<string, string>, string?, string>? Describe { get; init; }
}
