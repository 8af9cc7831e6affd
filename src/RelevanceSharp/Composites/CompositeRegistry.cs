using System.Globalization;
using System.Text.Json;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Composites;

/// <summary>One argument a named composite (or canonizer) accepts.</summary>
public sealed record ArgumentSpec(string Name, string Type, string? Default, string Description);

/// <summary>A named composite: its arguments and how to build it.</summary>
public sealed record CompositeEntry(
    string Name,
    string Description,
    IReadOnlyList<ArgumentSpec> Arguments,
    Func<ArgumentReader, IReadOnlyList<ICanonizer>, Composite> Create);

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

    /// <summary>A required number.</summary>
    public double RequiredNumber(string name)
    {
        if (!values.ContainsKey(name))
        {
            throw new ArgumentException($"Argument '{name}' is required.");
        }
        return Number(name, double.NaN);
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

    /// <summary>A stabilizer given as a number, or <c>null</c> for the default.</summary>
    public Stabilizer? Stabilizer(string name = "stabilizer") =>
        values.ContainsKey(name) ? new Stabilizer(Number(name, 1e-6)) : null;

    /// <summary>Throws if an argument was given that nothing read.</summary>
    public void EnsureAllUsed(string owner, IEnumerable<ArgumentSpec> known)
    {
        var unknown = values.Keys.Where(k => !used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException(
                $"Unknown argument(s) {string.Join(", ", unknown.Select(u => $"'{u}'"))} for {owner}; " +
                $"known: {string.Join(", ", known.Select(k => k.Name))}.");
        }
    }
}

/// <summary>The named composites, as zennit's registry names them.</summary>
public static class CompositeRegistry
{
    private static readonly ArgumentSpec EpsilonArg = new("epsilon", "number", "1e-6", "Epsilon of the Epsilon rule for dense layers.");
    private static readonly ArgumentSpec StabilizerArg = new("stabilizer", "number", "1e-6", "Stabilizer of the other rules.");
    private static readonly ArgumentSpec ZeroParamsArg = new("zero_params", "list of names", null, "Parameters set to zero in every rule (e.g. bias).");

    private static readonly CompositeEntry[] Entries =
    {
        new("epsilon_gamma_box", "ZBox on the first convolution, Gamma on convolutions, Epsilon on dense layers.",
            new[]
            {
                new ArgumentSpec("low", "number or list per channel", null, "Lowest possible input value (required)."),
                new ArgumentSpec("high", "number or list per channel", null, "Highest possible input value (required)."),
                EpsilonArg, new ArgumentSpec("gamma", "number", "0.25", "Gamma of the Gamma rule."), StabilizerArg, ZeroParamsArg,
            },
            (a, c) => new EpsilonGammaBox(
                a.NumberOrChannels("low") ?? throw new ArgumentException("epsilon_gamma_box needs the argument 'low'."),
                a.NumberOrChannels("high") ?? throw new ArgumentException("epsilon_gamma_box needs the argument 'high'."),
                a.Number("epsilon", 1e-6), a.Number("gamma", 0.25), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("epsilon_plus", "ZPlus on convolutions, Epsilon on dense layers.", new[] { EpsilonArg, StabilizerArg, ZeroParamsArg },
            (a, c) => new EpsilonPlus(a.Number("epsilon", 1e-6), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("epsilon_alpha2_beta1", "AlphaBeta(2, 1) on convolutions, Epsilon on dense layers.", new[] { EpsilonArg, StabilizerArg, ZeroParamsArg },
            (a, c) => new EpsilonAlpha2Beta1(a.Number("epsilon", 1e-6), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("epsilon_plus_flat", "Flat on the first linear layer, ZPlus on convolutions, Epsilon on dense layers.",
            new[] { EpsilonArg, StabilizerArg, ZeroParamsArg },
            (a, c) => new EpsilonPlusFlat(a.Number("epsilon", 1e-6), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("epsilon_alpha2_beta1_flat", "Flat on the first linear layer, AlphaBeta(2, 1) on convolutions, Epsilon on dense layers.",
            new[] { EpsilonArg, StabilizerArg, ZeroParamsArg },
            (a, c) => new EpsilonAlpha2Beta1Flat(a.Number("epsilon", 1e-6), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("deconvnet", "DeconvNet: ReLUs pass positive gradients only.", Array.Empty<ArgumentSpec>(),
            (a, c) => new DeconvNet(c)),
        new("guided_backprop", "Guided backpropagation.", Array.Empty<ArgumentSpec>(),
            (a, c) => new GuidedBackprop(c)),
        new("excitation_backprop", "Excitation backprop: ZPlus on all linear layers.", new[] { StabilizerArg, ZeroParamsArg },
            (a, c) => new ExcitationBackprop(a.Stabilizer(), a.Strings("zero_params"), c)),
        new("beta_smooth", "ReLU gradients replaced by the softplus gradient (for second-order attributions).",
            new[] { new ArgumentSpec("beta_smooth", "number", "10", "Softplus sharpness.") },
            (a, c) => new BetaSmooth(a.Number("beta_smooth", 10.0), c)),
    };

    /// <summary>All named composites.</summary>
    public static IReadOnlyList<CompositeEntry> All => Entries;

    /// <summary>The registry names.</summary>
    public static IEnumerable<string> Names => Entries.Select(e => e.Name);

    /// <summary>Looks up a composite by name.</summary>
    public static CompositeEntry Get(string name) =>
        Entries.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown composite '{name}'; known composites: {string.Join(", ", Names)}.");

    /// <summary>Creates a named composite with arguments and canonizers.</summary>
    public static Composite Create(string name, ArgumentReader? arguments = null, IEnumerable<ICanonizer>? canonizers = null)
    {
        CompositeEntry entry = Get(name);
        ArgumentReader args = arguments ?? ArgumentReader.Empty;
        Composite composite = entry.Create(args, canonizers?.ToArray() ?? Array.Empty<ICanonizer>());
        args.EnsureAllUsed($"composite '{entry.Name}'", entry.Arguments);
        return composite;
    }
}
