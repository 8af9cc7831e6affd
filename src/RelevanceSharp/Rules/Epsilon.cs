using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// LRP-epsilon: relevance is redistributed in proportion to each input's contribution <c>x * w</c>, the layer's
/// output stabilized by <c>epsilon</c>. <c>epsilon = 0</c> is LRP-0 (the sign-based stabilizer then only guards
/// exact zeros).
/// </summary>
public sealed class Epsilon : BasicRule
{
    /// <summary>Creates the rule with a plain epsilon.</summary>
    public Epsilon(double epsilon = Stabilizer.DefaultEpsilon, IReadOnlyList<string>? zeroParameters = null)
        : this(new Stabilizer(epsilon), zeroParameters)
    {
    }

    /// <summary>Creates the rule with any stabilizer.</summary>
    public Epsilon(Stabilizer epsilon, IReadOnlyList<string>? zeroParameters = null)
        : base(
            new[] { new RuleTerm(TermInput.Same, ParameterModifier.Unmodified(zeroParameters)) },
            (gradOutput, outputs) => new[] { gradOutput / epsilon.Apply(outputs[0]) },
            $"Epsilon({epsilon})")
    {
    }
}
