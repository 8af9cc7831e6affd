using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>LRP-w²: relevance spread in proportion to the squared weights, independent of the input.</summary>
public sealed class WSquare : BasicRule
{
    /// <summary>Creates the rule.</summary>
    public WSquare(Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : base(
            new[] { new RuleTerm(TermInput.Ones, new ParameterModifier((p, _) => p.pow(Scalars.Of(2.0)), ZeroParameters: zeroParameters)) },
            (gradOutput, outputs) => new[] { gradOutput / (stabilizer ?? Stabilizer.Default).Apply(outputs[0]) },
            "WSquare")
    {
    }
}
