using System.Text;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// What an attribution computes, in one value: a method (<see cref="MethodRegistry"/>) with its arguments, a composite
/// (<see cref="CompositeRegistry"/>) with its arguments, and canonizers (<see cref="CanonizerRegistry"/>). Read once
/// from its text form, checked against the registries, and built by one factory (<see cref="CreateAttributor"/>):
/// the library, <c>relevance explain</c>, <c>relevance evaluate</c> and the benchmark all go through it.
/// </summary>
/// <remarks>
/// <para>
/// The text form is <c>[method[(name=value,...)]:]composite[(name=value,...)][+canonizer...]</c>, or a method alone:
/// <c>epsilon_plus_flat</c> (LRP: the gradient with that composite), <c>epsilon_gamma_box(gamma=0.5)+resnet</c>,
/// <c>gradient</c>, <c>smoothgrad(noise_level=0.2,iterations=10)</c>, <c>smoothgrad:epsilon_plus_flat</c> (SmoothGrad
/// of LRP), <c>occlusion(window=16)</c>, <c>gradient+resnet</c> (the gradient of the canonized model). Values are
/// numbers, <c>true</c>/<c>false</c>, lists in brackets (<c>low=[-2.1,-2.0,-1.8]</c>) or names; the canonizer
/// <c>none</c> stands for no canonizer; names ignore case, and a method's older spellings
/// (<see cref="MethodEntry.Aliases"/>, e.g. <c>integrated-gradients</c>) are read as its name.
/// </para>
/// <para>
/// <see cref="ToString"/> writes the spec as it was given (names normalized); <see cref="Canonical"/> writes every
/// argument with its effective value, defaults and the values the <see cref="AttributionContext"/> supplies included,
/// so that two specs that compute the same thing have the same canonical text.
/// </para>
/// </remarks>
public sealed class AttributionSpec : IEquatable<AttributionSpec>
{
    private const string GradientMethod = "gradient";

    private AttributionSpec(string method, IReadOnlyList<string> methodArguments, string? composite, IReadOnlyList<string> compositeArguments,
        IReadOnlyList<string> canonizers)
    {
        Method = method;
        MethodArguments = methodArguments;
        Composite = composite;
        CompositeArguments = compositeArguments;
        Canonizers = canonizers;
    }

    /// <summary>The method's registry name (an alias is read as the name).</summary>
    public string Method { get; }

    /// <summary>The method's arguments as given, <c>name=value</c>.</summary>
    public IReadOnlyList<string> MethodArguments { get; }

    /// <summary>The composite's registry name, or <c>null</c> for none.</summary>
    public string? Composite { get; }

    /// <summary>The composite's arguments as given, <c>name=value</c>.</summary>
    public IReadOnlyList<string> CompositeArguments { get; }

    /// <summary>The canonizers' names, in the order they are applied.</summary>
    public IReadOnlyList<string> Canonizers { get; }

    /// <summary>The method's registry entry.</summary>
    public MethodEntry MethodEntry => MethodRegistry.Get(Method);

    /// <summary>The text form as given (<see cref="ToString"/>), which names the spec in reports and tables.</summary>
    public string Name => ToString();

    /// <summary>
    /// Builds a spec from its parts, checking every name against the registries and every argument against what its
    /// method or composite declares.
    /// </summary>
    /// <param name="method">A method name or alias.</param>
    /// <param name="methodArguments">The method's arguments, <c>name=value</c>.</param>
    /// <param name="composite">A composite name, or <c>null</c> for none.</param>
    /// <param name="compositeArguments">The composite's arguments, <c>name=value</c>; later ones win.</param>
    /// <param name="canonizers">Canonizer names, applied in order (<c>none</c> is left out).</param>
    /// <exception cref="ArgumentException">A name is unknown, an argument unknown or malformed, or the parts do not fit together.</exception>
    public static AttributionSpec Create(string method, IEnumerable<string>? methodArguments = null, string? composite = null,
        IEnumerable<string>? compositeArguments = null, IEnumerable<string>? canonizers = null)
    {
        ArgumentNullException.ThrowIfNull(method);
        MethodEntry entry = MethodRegistry.Get(method.Trim());
        string[] methodArgs = (methodArguments ?? []).Select(a => a.Trim()).ToArray();
        string[] compositeArgs = (compositeArguments ?? []).Select(a => a.Trim()).ToArray();
        string[] canonizerNames = [.. CompositeSpec.CanonizerNames(canonizers ?? [])];

        foreach (string argument in methodArgs)
        {
            if (!argument.Contains('=', StringComparison.Ordinal) || ArgumentValues.Unknown(entry.Arguments, [argument]).Count > 0)
            {
                throw new ArgumentException($"'{argument}' is not an argument of {entry.Name}" +
                    (entry.Arguments.Count == 0 ? " (it takes none)." : $" (known: {string.Join(", ", entry.Arguments.Select(a => a.Name))})."));
            }
        }
        CompositeEntry? compositeEntry = composite is null ? null : CompositeRegistry.Get(composite.Trim());
        if (!entry.TakesComposite && (compositeEntry is not null || canonizerNames.Length > 0))
        {
            throw new ArgumentException(
                $"{entry.Name} takes no composite (it runs the model without rules or takes the ordinary gradient), and canonizers only change LRP: give it without them.");
        }
        if (compositeEntry is null && compositeArgs.Length > 0)
        {
            throw new ArgumentException($"Composite arguments ({string.Join(", ", compositeArgs)}) were given without a composite.");
        }
        if (compositeEntry is not null && ArgumentValues.Unknown(compositeEntry.Arguments, compositeArgs) is { Count: > 0 } unknown)
        {
            throw new ArgumentException(
                $"Unknown argument(s) {string.Join(", ", unknown.Select(u => $"'{ArgumentValues.Name(u)}'"))} for composite '{compositeEntry.Name}'; " +
                $"known: {string.Join(", ", compositeEntry.Arguments.Select(k => k.Name))}.");
        }
        foreach (string canonizer in canonizerNames)
        {
            CanonizerRegistry.Get(canonizer);
        }
        var spec = new AttributionSpec(entry.Name, methodArgs, compositeEntry?.Name, compositeArgs, canonizerNames);
        // The values are checked now (kinds and limits); what the context supplies is checked when it is given.
        spec.MethodValues(null);
        spec.CompositeValues(null);
        return spec;
    }

    /// <summary>Reads the text form (see the remarks) and checks it as <see cref="Create"/> does.</summary>
    /// <exception cref="ArgumentException">The text is malformed or names something unknown; the message quotes the text.</exception>
    public static AttributionSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<string> parts = CompositeSpec.SplitTopLevel(text.Trim(), '+', text);
        List<string> head = CompositeSpec.SplitTopLevel(parts[0], ':', text);
        if (head.Count > 2)
        {
            throw new ArgumentException($"Configuration '{text}' has more than one ':' (method:composite).");
        }
        var (first, firstArguments) = CompositeSpec.NameAndArguments(head[0], text);
        string method = first;
        IReadOnlyList<string> methodArguments = firstArguments;
        string? composite = null;
        IReadOnlyList<string> compositeArguments = [];
        if (head.Count == 2)
        {
            (composite, compositeArguments) = CompositeSpec.NameAndArguments(head[1], text);
        }
        else if (MethodRegistry.Find(first) is null)
        {
            if (!CompositeRegistry.Names.Contains(first, StringComparer.OrdinalIgnoreCase))
            {
                throw new ArgumentException(
                    $"Configuration '{text}': unknown method '{first}'; known: {string.Join(", ", MethodRegistry.Names)} " +
                    $"and the composites {string.Join(", ", CompositeRegistry.Names)}.");
            }
            (method, methodArguments, composite, compositeArguments) = (GradientMethod, [], first, firstArguments);
        }
        try
        {
            return Create(method, methodArguments, composite, compositeArguments, parts.Skip(1));
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Configuration '{text}': {char.ToLowerInvariant(ex.Message[0])}{ex.Message[1..]}", ex);
        }
    }

    /// <summary>The same spec with other canonizers.</summary>
    public AttributionSpec WithCanonizers(IEnumerable<string> canonizers) =>
        Create(Method, MethodArguments, Composite, CompositeArguments, canonizers);

    /// <summary>
    /// The spec with every argument spelled with its effective value, in the order the entries declare them:
    /// defaults, values <paramref name="context"/> supplies (the input bounds) and values taken from another argument
    /// included, numbers in their shortest exact form. <see cref="Parse"/> reads it back to the same canonical text.
    /// </summary>
    /// <exception cref="ArgumentException">The composite needs values the context does not supply (the input bounds).</exception>
    public string Canonical(AttributionContext? context = null)
    {
        context ??= AttributionContext.None;
        return Text(ArgumentValues.Assignments(MethodValues(context)), ArgumentValues.Assignments(CompositeValues(context)));
    }

    /// <summary>What is computed, in words: the method with its main arguments, the composite and the canonizers.</summary>
    public string Describe()
    {
        MethodEntry entry = MethodEntry;
        IReadOnlyList<(string Name, string Value)> values = MethodValues(null);
        string method = entry.Describe?.Invoke(values.ToDictionary(v => v.Name, v => v.Value, StringComparer.OrdinalIgnoreCase), Composite)
            ?? Text(ArgumentValues.Assignments(values), []);
        return Canonizers.Count == 0 ? method : $"{method}, canonizers {string.Join(", ", Canonizers)}";
    }

    /// <summary>
    /// The composite with its canonizers (only the canonizers when the spec names none; <c>null</c> without either),
    /// with the values <paramref name="context"/> supplies.
    /// </summary>
    /// <exception cref="ArgumentException">The composite needs values the context does not supply, or an argument does not fit.</exception>
    public Composite? CreateComposite(AttributionContext? context = null)
    {
        ICanonizer[] canonizers = Canonizers.Select(CanonizerRegistry.Create).ToArray();
        if (Composite is null)
        {
            return canonizers.Length == 0 ? null : new LayerMapComposite(Array.Empty<(ModuleMatcher, Rule)>(), canonizers);
        }
        IReadOnlyList<(string Name, string Value)> values = CompositeValues(context ?? AttributionContext.None);
        return CompositeRegistry.Create(Composite, ArgumentReader.Parse(ArgumentValues.Assignments(values)), canonizers);
    }

    /// <summary>
    /// Builds the attributor of <paramref name="model"/>: the method's, with the composite and canonizers, every argument
    /// at its effective value (as <see cref="Canonical"/> spells it).
    /// </summary>
    /// <exception cref="ArgumentException">The composite needs values the context does not supply, or an argument does not fit.</exception>
    public Attributor CreateAttributor(nn.Module<Tensor, Tensor> model, AttributionContext? context = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        context ??= AttributionContext.None;
        MethodEntry entry = MethodEntry;
        var arguments = ArgumentReader.Parse(ArgumentValues.Assignments(MethodValues(context)));
        return entry.Create(new MethodContext(model, entry.TakesComposite ? CreateComposite(context) : null, arguments, context.Target));
    }

    /// <summary>The text form as given, names normalized: <see cref="Parse"/> reads it back to the same spec.</summary>
    public override string ToString() => Text(MethodArguments, CompositeArguments);

    /// <inheritdoc />
    public bool Equals(AttributionSpec? other) => other is not null && string.Equals(ToString(), other.ToString(), StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as AttributionSpec);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());

    private IReadOnlyList<(string Name, string Value)> MethodValues(AttributionContext? context) =>
        ArgumentValues.Resolve($"method '{Method}'", MethodEntry.Arguments, MethodArguments, context, Missing);

    private IReadOnlyList<(string Name, string Value)> CompositeValues(AttributionContext? context) =>
        Composite is null
            ? []
            : ArgumentValues.Resolve($"composite '{Composite}'", CompositeRegistry.Get(Composite).Arguments, CompositeArguments, context, Missing);

    private ArgumentException Missing(IReadOnlyList<ArgumentSpec> absent)
    {
        string names = string.Join(" and ", absent.Select(a => a.Name));
        return new ArgumentException(
            $"{Composite ?? Method} needs the input bounds {names}: give them as {Composite ?? Method}({string.Join(",", absent.Select(a => $"{a.Name}=..."))}), " +
            "or the range of the model's inputs (AttributionContext.Bounds).");
    }

    // method[(args)][:composite[(args)]][+canonizer...], the method left out for LRP (the gradient with a composite).
    private string Text(IReadOnlyList<string> methodArguments, IReadOnlyList<string> compositeArguments)
    {
        var text = new StringBuilder();
        if (!(Method == GradientMethod && methodArguments.Count == 0 && Composite is not null))
        {
            text.Append(Method);
            if (methodArguments.Count > 0)
            {
                text.Append('(').Append(string.Join(",", methodArguments)).Append(')');
            }
            if (Composite is not null)
            {
                text.Append(':');
            }
        }
        if (Composite is not null)
        {
            text.Append(Composite);
            if (compositeArguments.Count > 0)
            {
                text.Append('(').Append(string.Join(",", compositeArguments)).Append(')');
            }
        }
        foreach (string canonizer in Canonizers)
        {
            text.Append('+').Append(canonizer);
        }
        return text.ToString();
    }
}
