using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// Normalizes relevance by the layer's output and multiplies by the input: LRP-epsilon without parameters, for
/// average pools and sums.
/// </summary>
public sealed class Norm : BasicRule
{
    /// <summary>Creates the rule.</summary>
    public Norm(Stabilizer? stabilizer = null)
        : base(
            new[] { new RuleTerm(TermInput.Same, new ParameterModifier((p, _) => p, ParameterNames: Array.Empty<string>()) { KeepsValues = true }) },
            (gradOutput, outputs) => new[] { gradOutput / (stabilizer ?? Stabilizer.Default).Apply(outputs[0]) },
            "Norm")
    {
    }
}
