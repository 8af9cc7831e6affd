using RelevanceSharp.Composites;

namespace RelevanceSharp.Attribution;

/// <summary>
/// What the caller of <see cref="AttributionSpec.CreateAttributor"/> knows about the inputs and the call, for the
/// defaults that depend on them: the input range (the <c>low</c> and <c>high</c> of ZBox) and the target of calls
/// that give none.
/// </summary>
public sealed record AttributionContext
{
    /// <summary>No context: inputs of unknown range, and the attributor's own default target.</summary>
    public static AttributionContext None { get; } = new();

    /// <summary>The range of the inputs, or <c>null</c> when unknown.</summary>
    public InputBounds? Bounds { get; init; }

    /// <summary>The target of calls that give none, or <c>null</c> for the model output (the attributors' default).</summary>
    public AttributionTarget? Target { get; init; }

    /// <summary>A context with the input range <paramref name="bounds"/>.</summary>
    public static AttributionContext ForInputs(InputBounds? bounds) => new() { Bounds = bounds };

    /// <summary>The value this context supplies for <paramref name="value"/>, as argument text, or <c>null</c>.</summary>
    internal string? Supply(ContextValue value) => value switch
    {
        ContextValue.InputLow => Bounds?.LowText,
        ContextValue.InputHigh => Bounds?.HighText,
        _ => null,
    };
}
