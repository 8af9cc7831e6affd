using System.Globalization;
using System.Text.Json;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Composites;

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
