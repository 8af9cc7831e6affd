using System.Globalization;
using System.Text.Json;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Composites;

/// <summary>
/// Arguments given by name (from JSON, or from <c>name=value</c> strings on the command line). Values are numbers,
/// booleans, strings or lists of numbers; reading an argument marks it used so that unknown names can be reported.
/// </summary>
public sealed class ArgumentReader
{
    private readonly Dictionary<string, JsonElement> values;
    private readonly HashSet<string> used = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates a reader over JSON values.</summary>
    public ArgumentReader(IReadOnlyDictionary<string, JsonElement>? values = null)
    {
        this.values = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
        if (values is not null)
        {
            foreach (var (key, value) in values)
            {
                this.values[key] = value;
            }
        }
    }

    /// <summary>No arguments.</summary>
    public static ArgumentReader Empty => new();

    /// <summary>
    /// Parses <c>name=value</c> assignments. A value is a number, <c>true</c>/<c>false</c>, a list in brackets
    /// (<c>[-2.1,-2.0,-1.8]</c>) or any other text (taken as a string).
    /// </summary>
    public static ArgumentReader Parse(IEnumerable<string> assignments)
    {
        var result = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
        foreach (string assignment in assignments)
        {
            int eq = assignment.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ArgumentException($"Argument '{assignment}' is not of the form name=value.");
            }
            string name = assignment[..eq].Trim();
            string text = assignment[(eq + 1)..].Trim();
            JsonElement value;
            try
            {
                value = JsonDocument.Parse(text).RootElement.Clone();
            }
            catch (JsonException)
            {
                value = JsonDocument.Parse(JsonSerializer.Serialize(text)).RootElement.Clone();
            }
            result[name] = value;
        }
        return new ArgumentReader(result);
    }

    /// <summary>Whether an argument was given.</summary>
    public bool Has(string name) => values.ContainsKey(name);

    /// <summary>The value of an argument as given, without marking it used.</summary>
    internal bool TryGet(string name, out JsonElement value) => values.TryGetValue(name, out value);

    /// <summary>A number, or the default.</summary>
    public double Number(string name, double fallback)
    {
        if (!values.TryGetValue(name, out JsonElement value))
        {
            return fallback;
        }
        used.Add(name);
        if (value.ValueKind == JsonValueKind.Number)
        {
            return value.GetDouble();
        }
        if (value.ValueKind == JsonValueKind.String &&
            double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed))
        {
            return parsed;
        }
        throw new ArgumentException($"Argument '{name}' must be a number; got {value}.");
    }

    /// <summary>
    /// A number, or the default its <paramref name="spec"/> declares (the one place each composite states its
    /// defaults, which <c>relevance composites</c> also prints).
    /// </summary>
    public double Number(ArgumentSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Default is null || !double.TryParse(spec.Default, NumberStyles.Float, CultureInfo.InvariantCulture, out double fallback))
        {
            throw new InvalidOperationException($"Argument '{spec.Name}' declares no numeric default.");
        }
        return Number(spec.Name, fallback);
    }

    /// <summary>A whole number, or the default its <paramref name="spec"/> declares.</summary>
    /// <exception cref="ArgumentException">The value is not a whole number, or the spec declares no default and none was given.</exception>
    public long WholeNumber(ArgumentSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        double fallback = spec.Default is not null && double.TryParse(spec.Default, NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed)
            ? parsed
            : Has(spec.Name) ? 0 : throw new ArgumentException($"Argument '{spec.Name}' is needed.");
        double value = Number(spec.Name, fallback);
        if (value != Math.Floor(value) || value < long.MinValue || value > long.MaxValue)
        {
            throw new ArgumentException($"Argument '{spec.Name}' must be a whole number; got {value.ToString(CultureInfo.InvariantCulture)}.");
        }
        return (long)value;
    }

    /// <summary>A number or a list of numbers as a tensor (a list becomes a per-channel tensor of shape (1, C, 1, ...)).</summary>
    public Tensor? NumberOrChannels(string name, int spatialDims = 2)
    {
        if (!values.TryGetValue(name, out JsonElement value))
        {
            return null;
        }
        used.Add(name);
        if (value.ValueKind == JsonValueKind.Array)
        {
            double[] numbers = value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Number
                ? v.GetDouble()
                : throw new ArgumentException($"Argument '{name}' must be a list of numbers; got {value}.")).ToArray();
            long[] shape = new long[] { 1, numbers.Length }.Concat(Enumerable.Repeat(1L, spatialDims)).ToArray();
            return tensor(numbers, ScalarType.Float64).reshape(shape);
        }
        used.Remove(name);
        return tensor(Number(name, double.NaN), ScalarType.Float64);
    }

    /// <summary>A list of strings (a single string counts as a list of one), or <c>null</c>.</summary>
    public IReadOnlyList<string>? Strings(string name)
    {
        if (!values.TryGetValue(name, out JsonElement value))
        {
            return null;
        }
        used.Add(name);
        return value.ValueKind switch
        {
            JsonValueKind.Array => value.EnumerateArray().Select(v => v.GetString() ?? "").ToArray(),
            JsonValueKind.String => (value.GetString() ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            JsonValueKind.Null => null,
            _ => throw new ArgumentException($"Argument '{name}' must be a string or a list of strings; got {value}."),
        };
    }

    /// <summary>A stabilizer given as a number, or <c>null</c> for the rules' default (<see cref="Core.Stabilizer.Default"/>).</summary>
    public Stabilizer? Stabilizer(string name = "stabilizer") =>
        values.ContainsKey(name) ? new Stabilizer(Number(name, double.NaN)) : null;

    /// <summary>
    /// Throws if an argument was given that nothing read and that <paramref name="known"/> does not declare. (A
    /// declared argument may be read later, e.g. by a composite's map function when it is registered on a model.)
    /// </summary>
    public void EnsureAllUsed(string owner, IEnumerable<ArgumentSpec> known)
    {
        var declared = known.Select(k => k.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var unknown = values.Keys.Where(k => !used.Contains(k) && !declared.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException(
                $"Unknown argument(s) {string.Join(", ", unknown.Select(u => $"'{u}'"))} for {owner}; " +
                $"known: {string.Join(", ", known.Select(k => k.Name))}.");
        }
    }
}
