using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>LRP-flat: relevance spread uniformly over each output's receptive field (all weights one, no bias).</summary>
public sealed class Flat : BasicRule
{
    /// <summary>Creates the rule.</summary>
    public Flat(Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : base(
            new[] { new RuleTerm(TermInput.Ones, new ParameterModifier((p, _) => ones_like(p), ZeroParameters: ParameterModifier.WithBias(zeroParameters), RequireParameters: false)) },
            (gradOutput, outputs) => new[] { gradOutput / (stabilizer ?? Stabilizer.Default).Apply(outputs[0]) },
            "Flat")
    {
    }
}
