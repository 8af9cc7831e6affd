using RelevanceSharp.Composites;

namespace RelevanceSharp.Attribution;

/// <summary>
/// The range of valid (normalized) input values, per channel or one for all channels: what rules such as ZBox in
/// <c>epsilon_gamma_box</c> need as <c>low</c> and <c>high</c>, and what an <see cref="AttributionContext"/> supplies
/// for them.
/// </summary>
/// <param name="Low">Lowest value, one per channel or a single one.</param>
/// <param name="High">Highest value, one per channel or a single one.</param>
public sealed record InputBounds(IReadOnlyList<double> Low, IReadOnlyList<double> High)
{
    /// <summary>
    /// The bounds of images with pixels in [0, 1] normalized as <c>(x - mean) / std</c>: <c>(0 - mean) / std</c>
    /// and <c>(1 - mean) / std</c> per channel, in double precision. The one formula for every input range.
    /// </summary>
    public static InputBounds FromNormalization(IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Count != std.Count || mean.Count == 0)
        {
            throw new ArgumentException($"Need as many means as standard deviations (got {mean.Count} and {std.Count}).");
        }
        return new InputBounds(
            mean.Zip(std, (m, s) => (0.0 - m) / s).ToArray(),
            mean.Zip(std, (m, s) => (1.0 - m) / s).ToArray());
    }

    /// <summary>The bounds as arguments <c>low=...</c> and <c>high=...</c> (a number, or a list per channel).</summary>
    public IReadOnlyList<string> ToArguments() => [$"low={Text(Low)}", $"high={Text(High)}"];

    /// <summary>The lowest values as an argument value: one number, or a list per channel.</summary>
    internal string LowText => Text(Low);

    /// <summary>The highest values as an argument value.</summary>
    internal string HighText => Text(High);

    private static string Text(IReadOnlyList<double> values) =>
        values.Count == 1
            ? ArgumentSpec.FormatNumber(values[0])
            : "[" + string.Join(",", values.Select(ArgumentSpec.FormatNumber)) + "]";
}
