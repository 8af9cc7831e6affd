using System.Globalization;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.Imaging;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>Builds composites by name for image models, with input-dependent defaults filled in.</summary>
public static class ExplainComposite
{
    /// <summary>
    /// Creates a named composite with <c>name=value</c> arguments and named canonizers. A composite with
    /// <c>low</c> and <c>high</c> arguments (ZBox on the first layer) gets the normalized pixel range of
    /// <paramref name="transform"/> (<see cref="PixelRange"/>) unless the arguments say otherwise. Without a
    /// composite name (<c>null</c>) the result only applies the canonizers, or is <c>null</c> without canonizers.
    /// </summary>
    /// <exception cref="ArgumentException">A name is unknown or an argument does not fit; the message lists the known names.</exception>
    public static Composite? Create(string? name, ImageTransform transform, IReadOnlyList<string>? arguments = null, IReadOnlyList<string>? canonizers = null)
    {
        ArgumentNullException.ThrowIfNull(transform);
        arguments ??= [];
        ICanonizer[] created = (canonizers ?? []).Select(CanonizerRegistry.Create).ToArray();
        if (name is null)
        {
            if (arguments.Count > 0)
            {
                throw new ArgumentException($"Composite arguments ({string.Join(", ", arguments)}) were given without a composite.");
            }
            return created.Length == 0 ? null : new LayerMapComposite(Array.Empty<(ModuleMatcher, Rule)>(), created);
        }
        CompositeEntry entry = CompositeRegistry.Get(name);
        var assignments = new List<string>();
        if (entry.Arguments.Any(a => a.Name == "low") && entry.Arguments.Any(a => a.Name == "high"))
        {
            var (low, high) = PixelRange(transform);
            assignments.Add("low=" + Format(low));
            assignments.Add("high=" + Format(high));
        }
        // Later assignments win, so the caller's arguments replace the defaults.
        assignments.AddRange(arguments);
        return CompositeRegistry.Create(entry.Name, ArgumentReader.Parse(assignments), created);
    }

    /// <summary>
    /// The values black and white pixels have after <paramref name="transform"/>'s normalization, per channel:
    /// <c>(0 - mean) / std</c> and <c>(1 - mean) / std</c> (one value when the transform has one mean).
    /// </summary>
    public static (double[] Low, double[] High) PixelRange(ImageTransform transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        double[] low = transform.Mean.Zip(transform.Std, (m, s) => (0.0 - m) / s).ToArray();
        double[] high = transform.Mean.Zip(transform.Std, (m, s) => (1.0 - m) / s).ToArray();
        return (low, high);
    }

    private static string Format(double[] values) =>
        values.Length == 1
            ? values[0].ToString("R", CultureInfo.InvariantCulture)
            : "[" + string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]";
}
