using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;

namespace RelevanceSharp.Composites;

/// <summary>
/// Another composite's rules, computed the general way: every rule built from terms is replaced by the same rule given
/// by its modifiers and reducer, which recomputes each term with the layer's modified parameters and takes none of the
/// engine's shortcuts (reuse of the forward pass, skipped zero inputs, stacked calls, the one-call ZPlus and Gamma).
/// Slower, and equal to the original up to rounding: a check of the shortcuts, for tests and for
/// <c>relevance doctor</c>.
/// </summary>
public sealed class GeneralPathComposite : Composite
{
    private readonly Composite inner;

    /// <summary>Wraps <paramref name="inner"/>, keeping its canonizers.</summary>
    public GeneralPathComposite(Composite inner)
        : base((inner ?? throw new ArgumentNullException(nameof(inner))).Canonizers)
    {
        this.inner = inner;
    }

    /// <inheritdoc />
    public override Rule? MapModule(IDictionary<string, object> context, string name, torch.nn.Module module) =>
        inner.MapModule(context, name, module) switch
        {
            BasicRule { Terms: not null } rule => new BasicRule(
                rule.InputModifiers, rule.ParameterModifiers, rule.OutputModifiers, rule.GradientMapper, rule.Reducer, $"{rule} (general path)"),
            var other => other,
        };
}
