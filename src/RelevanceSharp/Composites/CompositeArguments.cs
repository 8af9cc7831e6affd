using RelevanceSharp.Rules;

namespace RelevanceSharp.Composites;

/// <summary>
/// The arguments the named composites share, each with its one default: a composite's registry entry lists those
/// it takes, and <c>relevance composites</c> prints them.
/// </summary>
public static class CompositeArguments
{
    /// <summary><c>low</c>: the lowest possible input value, for ZBox; callers that know their inputs supply it.</summary>
    public static ArgumentSpec Low { get; } =
        new("low", "number or list per channel", null, "Lowest possible input value (required).")
        {
            Kind = ArgumentKind.NumberOrList,
            Context = ContextValue.InputLow,
        };

    /// <summary><c>high</c>: the highest possible input value, for ZBox.</summary>
    public static ArgumentSpec High { get; } =
        new("high", "number or list per channel", null, "Highest possible input value (required).")
        {
            Kind = ArgumentKind.NumberOrList,
            Context = ContextValue.InputHigh,
        };

    /// <summary><c>epsilon</c>: the Epsilon rule's stabilizer on dense layers.</summary>
    public static ArgumentSpec Epsilon { get; } =
        ArgumentSpec.Number("epsilon", Core.Stabilizer.DefaultEpsilon, "Epsilon of the Epsilon rule for dense layers.");

    /// <summary><c>stabilizer</c>: the stabilizer of the other rules.</summary>
    public static ArgumentSpec Stabilizer { get; } =
        ArgumentSpec.Number("stabilizer", Core.Stabilizer.DefaultEpsilon, "Stabilizer of the other rules.");

    /// <summary><c>gamma</c>: the Gamma rule's gamma.</summary>
    public static ArgumentSpec Gamma { get; } = ArgumentSpec.Number("gamma", Rules.Gamma.DefaultGamma, "Gamma of the Gamma rule.");

    /// <summary><c>beta_smooth</c>: the softplus sharpness of <c>beta_smooth</c>.</summary>
    public static ArgumentSpec BetaSmooth { get; } = ArgumentSpec.Number("beta_smooth", ReLUBetaSmooth.DefaultBeta, "Softplus sharpness.");

    /// <summary><c>zero_params</c>: parameters set to zero in every rule (no default: none).</summary>
    public static ArgumentSpec ZeroParams { get; } =
        new("zero_params", "list of names", null, "Parameters set to zero in every rule (e.g. bias).") { Kind = ArgumentKind.Names };
}
