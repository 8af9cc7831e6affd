using System.Globalization;
using System.Text;
using System.Text.Json;
using RelevanceSharp.Attribution;

namespace RelevanceSharp.Composites;

/// <summary>
/// Resolves <c>name=value</c> arguments against what an entry declares: every declared argument with its effective
/// value (given, supplied by the caller's context, taken from another argument, or its default) in one spelling, so
/// that two argument lists that compute the same thing read the same.
/// </summary>
internal static class ArgumentValues
{
    /// <summary>
    /// The effective value of each declared argument, in declared order, as canonical text; arguments without a value
    /// (no default, nothing given) are left out. With <paramref name="context"/> <c>null</c>, arguments the context
    /// supplies are left out when not given (checking only); otherwise their absence throws <paramref name="missing"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A value does not fit its argument's kind or limit.</exception>
    public static IReadOnlyList<(string Name, string Value)> Resolve(string owner, IReadOnlyList<ArgumentSpec> specs,
        IReadOnlyList<string> given, AttributionContext? context, Func<IReadOnlyList<ArgumentSpec>, Exception> missing)
    {
        ArgumentReader reader = ArgumentReader.Parse(given);
        var resolved = new List<(string Name, string Value)>();
        var absent = new List<ArgumentSpec>();
        foreach (ArgumentSpec spec in specs)
        {
            string? text;
            if (reader.TryGet(spec.Name, out JsonElement value))
            {
                text = Canonical(owner, spec, value);
            }
            else if (spec.Context != ContextValue.None)
            {
                text = context?.Supply(spec.Context);
                if (text is null)
                {
                    if (context is not null)
                    {
                        absent.Add(spec);
                    }
                    continue;
                }
                text = Canonical(owner, spec, Json(text));
            }
            else if (spec.DefaultFrom is { } other)
            {
                text = resolved.FirstOrDefault(r => string.Equals(r.Name, other, StringComparison.OrdinalIgnoreCase)).Value;
            }
            else
            {
                text = spec.Default is null ? null : Canonical(owner, spec, Json(spec.Default));
            }
            if (text is not null)
            {
                resolved.Add((spec.Name, text));
            }
        }
        if (absent.Count > 0)
        {
            throw missing(absent);
        }
        return resolved;
    }

    /// <summary>The arguments of <paramref name="given"/> that <paramref name="specs"/> does not declare, as given.</summary>
    public static IReadOnlyList<string> Unknown(IReadOnlyList<ArgumentSpec> specs, IReadOnlyList<string> given) =>
        given.Where(a => !specs.Any(s => string.Equals(s.Name, Name(a), StringComparison.OrdinalIgnoreCase))).ToList();

    /// <summary>The name of a <c>name=value</c> assignment (all of it when there is no '=').</summary>
    public static string Name(string assignment)
    {
        int eq = assignment.IndexOf('=', StringComparison.Ordinal);
        return (eq < 0 ? assignment : assignment[..eq]).Trim();
    }

    /// <summary>Arguments as <c>name=value</c>, ready for <see cref="ArgumentReader.Parse"/>.</summary>
    public static IReadOnlyList<string> Assignments(IEnumerable<(string Name, string Value)> values) =>
        values.Select(v => $"{v.Name}={v.Value}").ToList();

    private static JsonElement Json(string text)
    {
        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonDocument.Parse(JsonSerializer.Serialize(text)).RootElement.Clone();
        }
    }

    private static string Canonical(string owner, ArgumentSpec spec, JsonElement value)
    {
        string text = spec.Kind switch
        {
            ArgumentKind.Number => ArgumentSpec.FormatNumber(Finite(owner, spec, value)),
            ArgumentKind.WholeNumber => Whole(owner, spec, value).ToString(CultureInfo.InvariantCulture),
            ArgumentKind.NumberOrList when value.ValueKind == JsonValueKind.Array =>
                "[" + string.Join(",", value.EnumerateArray().Select(v => ArgumentSpec.FormatNumber(Finite(owner, spec, v)))) + "]",
            ArgumentKind.NumberOrList => ArgumentSpec.FormatNumber(Finite(owner, spec, value)),
            ArgumentKind.Names => Names(owner, spec, value),
            _ => Any(value),
        };
        if (spec.Minimum is double minimum && spec.Kind is ArgumentKind.Number or ArgumentKind.WholeNumber
            && double.Parse(text, CultureInfo.InvariantCulture) < minimum)
        {
            throw new ArgumentException(
                $"Argument '{spec.Name}' of {owner} must be at least {ArgumentSpec.FormatNumber(minimum)}; got {text}.");
        }
        return text;
    }

    private static double Finite(string owner, ArgumentSpec spec, JsonElement value)
    {
        double number = value.ValueKind switch
        {
            JsonValueKind.Number => value.GetDouble(),
            JsonValueKind.String when double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) => parsed,
            _ => double.NaN,
        };
        if (!double.IsFinite(number))
        {
            throw new ArgumentException($"Argument '{spec.Name}' of {owner} must be a finite number; got {value}.");
        }
        return number;
    }

    private static long Whole(string owner, ArgumentSpec spec, JsonElement value)
    {
        double number = Finite(owner, spec, value);
        if (number != Math.Floor(number) || number < long.MinValue || number > long.MaxValue)
        {
            throw new ArgumentException($"Argument '{spec.Name}' must be a whole number; got {ArgumentSpec.FormatNumber(number)}.");
        }
        return (long)number;
    }

    private static string Names(string owner, ArgumentSpec spec, JsonElement value)
    {
        IEnumerable<string> names = value.ValueKind switch
        {
            JsonValueKind.Array => value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String
                ? v.GetString()!
                : throw new ArgumentException($"Argument '{spec.Name}' of {owner} must be a list of names; got {value}.")),
            JsonValueKind.String => value.GetString()!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            _ => throw new ArgumentException($"Argument '{spec.Name}' of {owner} must be a name or a list of names; got {value}."),
        };
        return "[" + string.Join(",", names.Select(n => JsonSerializer.Serialize(n))) + "]";
    }

    private static string Any(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => ArgumentSpec.FormatNumber(value.GetDouble()),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Array => "[" + string.Join(",", value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String
            ? JsonSerializer.Serialize(v.GetString())
            : Any(v))) + "]",
        _ => Compact(value),
    };

    private static string Compact(JsonElement value)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            value.WriteTo(writer);
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
