using System.Text.Json;
using RelevanceSharp.Canonizers;
using static TorchSharp.torch;

namespace RelevanceSharp.Composites;

/// <summary>The named composites, as zennit's registry names them.</summary>
public static class CompositeRegistry
{
    // Names that mean a method on the command line (explain --composite, evaluate --config), never a composite.
    private static readonly string[] Reserved = ["gradient", "none", "smoothgrad", "integrated_gradients", "occlusion"];

    private static readonly ArgumentSpec EpsilonArg = new("epsilon", "number", "1e-6", "Epsilon of the Epsilon rule for dense layers.");
    private static readonly ArgumentSpec StabilizerArg = new("stabilizer", "number", "1e-6", "Stabilizer of the other rules.");
    private static readonly ArgumentSpec GammaArg = new("gamma", "number", "0.25", "Gamma of the Gamma rule.");
    private static readonly ArgumentSpec BetaSmoothArg = new("beta_smooth", "number", "10", "Softplus sharpness.");
    private static readonly ArgumentSpec ZeroParamsArg = new("zero_params", "list of names", null, "Parameters set to zero in every rule (e.g. bias).");

    private static readonly NamedRegistry<CompositeEntry> Registry = new("composite", e => e.Name,
    [
        new("epsilon_gamma_box", "ZBox on the first convolution, Gamma on convolutions, Epsilon on dense layers.",
            new[]
            {
                new ArgumentSpec("low", "number or list per channel", null, "Lowest possible input value (required)."),
                new ArgumentSpec("high", "number or list per channel", null, "Highest possible input value (required)."),
                EpsilonArg, GammaArg, StabilizerArg, ZeroParamsArg,
            },
            (a, c) => new EpsilonGammaBox(
                a.NumberOrChannels("low") ?? throw new ArgumentException("epsilon_gamma_box needs the argument 'low'."),
                a.NumberOrChannels("high") ?? throw new ArgumentException("epsilon_gamma_box needs the argument 'high'."),
                a.Number(EpsilonArg), a.Number(GammaArg), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("epsilon_plus", "ZPlus on convolutions, Epsilon on dense layers.", new[] { EpsilonArg, StabilizerArg, ZeroParamsArg },
            (a, c) => new EpsilonPlus(a.Number(EpsilonArg), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("epsilon_alpha2_beta1", "AlphaBeta(2, 1) on convolutions, Epsilon on dense layers.", new[] { EpsilonArg, StabilizerArg, ZeroParamsArg },
            (a, c) => new EpsilonAlpha2Beta1(a.Number(EpsilonArg), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("epsilon_plus_flat", "Flat on the first linear layer, ZPlus on convolutions, Epsilon on dense layers.",
            new[] { EpsilonArg, StabilizerArg, ZeroParamsArg },
            (a, c) => new EpsilonPlusFlat(a.Number(EpsilonArg), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("epsilon_alpha2_beta1_flat", "Flat on the first linear layer, AlphaBeta(2, 1) on convolutions, Epsilon on dense layers.",
            new[] { EpsilonArg, StabilizerArg, ZeroParamsArg },
            (a, c) => new EpsilonAlpha2Beta1Flat(a.Number(EpsilonArg), a.Stabilizer(), a.Strings("zero_params"), c)),
        new("deconvnet", "DeconvNet: ReLUs pass positive gradients only.", Array.Empty<ArgumentSpec>(),
            (a, c) => new DeconvNet(c)),
        new("guided_backprop", "Guided backpropagation.", Array.Empty<ArgumentSpec>(),
            (a, c) => new GuidedBackprop(c)),
        new("excitation_backprop", "Excitation backprop: ZPlus on all linear layers.", new[] { StabilizerArg, ZeroParamsArg },
            (a, c) => new ExcitationBackprop(a.Stabilizer(), a.Strings("zero_params"), c)),
        new("beta_smooth", "ReLU gradients replaced by the softplus gradient (for second-order attributions).",
            new[] { BetaSmoothArg },
            (a, c) => new BetaSmooth(a.Number(BetaSmoothArg), c)),
    ]);

    /// <summary>All named composites: the built-in ones, then those registered, in order.</summary>
    public static IReadOnlyList<CompositeEntry> All => Registry.All;

    /// <summary>The registry names.</summary>
    public static IEnumerable<string> Names => Registry.Names;

    /// <summary>Looks up a composite by name.</summary>
    public static CompositeEntry Get(string name) => Registry.Get(name);

    /// <summary>
    /// Adds a composite under a new name, so that <see cref="Create"/>, <c>relevance explain --composite</c> and
    /// <c>relevance evaluate --config</c> know it; its arguments are read with the same syntax as the built-in ones'.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, has characters other than letters, digits and
    /// underscores, is reserved for a method, or is taken.</exception>
    public static void Register(CompositeEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (Reserved.Contains(entry.Name, StringComparer.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{entry.Name}' is reserved: the command line uses it for a method, not a composite.", nameof(entry));
        }
        Registry.Register(entry);
    }

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
