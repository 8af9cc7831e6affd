using System.Globalization;

namespace RelevanceSharp.Composites;

/// <summary>What kind of value an argument takes, which decides how its canonical text is spelled.</summary>
public enum ArgumentKind
{
    /// <summary>Spelled as given: numbers and lists of numbers in the shortest form that reads back exactly, other text as it is.</summary>
    Any,

    /// <summary>A number.</summary>
    Number,

    /// <summary>A whole number.</summary>
    WholeNumber,

    /// <summary>A number, or a list of numbers (one per channel).</summary>
    NumberOrList,

    /// <summary>A list of names; one name alone counts as a list of one.</summary>
    Names,
}

/// <summary>A value the caller of a factory supplies as an argument's default, because it depends on the inputs.</summary>
public enum ContextValue
{
    /// <summary>None: the argument's default is its own.</summary>
    None,

    /// <summary>The lowest value an input can take (<see cref="Attribution.InputBounds.Low"/>).</summary>
    InputLow,

    /// <summary>The highest value an input can take (<see cref="Attribution.InputBounds.High"/>).</summary>
    InputHigh,
}

/// <summary>One argument a named composite, canonizer or method accepts.</summary>
/// <param name="Name">The argument's name, as written in <c>name=value</c>.</param>
/// <param name="Type">What it takes, in words (for listings).</param>
/// <param name="Default">The value used when it is not given, as text; <c>null</c> when it has none (or the caller supplies it).</param>
/// <param name="Description">What it does.</param>
public sealed record ArgumentSpec(string Name, string Type, string? Default, string Description)
{
    /// <summary>How the canonical text spells its value (<see cref="ArgumentKind.Any"/> unless set).</summary>
    public ArgumentKind Kind { get; init; } = ArgumentKind.Any;

    /// <summary>
    /// Where the default comes from when it depends on the inputs (the bounds of ZBox): the
    /// <see cref="Attribution.AttributionContext"/> a caller passes to the factory. <see cref="Default"/> is then <c>null</c>.
    /// </summary>
    public ContextValue Context { get; init; }

    /// <summary>The argument whose value is this one's default (the occlusion stride defaults to the window), or <c>null</c>.</summary>
    public string? DefaultFrom { get; init; }

    /// <summary>The smallest value accepted, for numbers; <c>null</c> for no limit.</summary>
    public double? Minimum { get; init; }

    /// <summary>A number argument whose default is <paramref name="fallback"/>, spelled by <see cref="FormatNumber"/>.</summary>
    public static ArgumentSpec Number(string name, double fallback, string description) =>
        new(name, "number", FormatNumber(fallback), description) { Kind = ArgumentKind.Number };

    /// <summary>A whole-number argument whose default is <paramref name="fallback"/> (<c>null</c>: see <see cref="DefaultFrom"/>).</summary>
    public static ArgumentSpec WholeNumber(string name, long? fallback, string description) =>
        new(name, "whole number", fallback?.ToString(CultureInfo.InvariantCulture), description) { Kind = ArgumentKind.WholeNumber };

    /// <summary>
    /// A number in the shortest text that reads back to the same double, in lower case and without a padded
    /// exponent: <c>1e-6</c>, <c>0.25</c>, <c>10</c>, <c>-2.1179039301310043</c>.
    /// </summary>
    public static string FormatNumber(double value)
    {
        string text = value.ToString("R", CultureInfo.InvariantCulture);
        int e = text.IndexOf('E', StringComparison.Ordinal);
        if (e < 0)
        {
            return text;
        }
        string exponent = text[(e + 1)..];
        string sign = exponent.StartsWith('-') ? "-" : "";
        string digits = exponent.TrimStart('+', '-').TrimStart('0');
        return $"{text[..e]}e{sign}{(digits.Length == 0 ? "0" : digits)}";
    }
}
