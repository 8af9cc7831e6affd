using System.Globalization;
using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// The range of valid (normalized) input values, per channel or one for all channels: what rules such as ZBox in
/// <c>epsilon_gamma_box</c> need as <c>low</c> and <c>high</c>.
/// </summary>
/// <param name="Low">Lowest value, one per channel or a single one.</param>
/// <param name="High">Highest value, one per channel or a single one.</param>
public sealed record InputBounds(IReadOnlyList<double> Low, IReadOnlyList<double> High)
{
    /// <summary>
    /// The bounds of images with pixels in [0, 1] normalized as <c>(x - mean) / std</c>: <c>(0 - mean) / std</c>
    /// and <c>(1 - mean) / std</c> per channel.
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

    /// <summary>The bounds as composite arguments <c>low=...</c> and <c>high=...</c> (a number, or a list per channel).</summary>
    public IReadOnlyList<string> ToArguments() => [$"low={Format(Low)}", $"high={Format(High)}"];

    private static string Format(IReadOnlyList<double> values) =>
        values.Count == 1
            ? values[0].ToString("R", CultureInfo.InvariantCulture)
            : "[" + string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]";
}

/// <summary>
/// One attribution configuration to evaluate: a method (<c>gradient</c>, <c>smoothgrad</c>,
/// <c>integrated_gradients</c>, <c>random</c> (uniform noise, a control), or the name of a composite, which means
/// LRP with that composite) with optional arguments, and the canonizers applied with a composite.
/// </summary>
/// <remarks>
/// The text form is <c>method[(name=value,...)][+canonizer...]</c>, e.g. <c>epsilon_plus_flat</c>,
/// <c>epsilon_gamma_box+densenet_seq_thresh</c>, <c>epsilon_gamma_box(gamma=0.5)</c>,
/// <c>smoothgrad(noise_level=0.2,iterations=10)</c>. The canonizer <c>none</c> stands for no canonizer.
/// Arguments of <c>smoothgrad</c>: <c>noise_level</c> (0.1), <c>iterations</c> (20), <c>seed</c> (0); of
/// <c>integrated_gradients</c>: <c>iterations</c> (20); of composites: those the composite registry lists.
/// <c>epsilon_gamma_box</c> without <c>low</c> and <c>high</c> takes them from the model's <see cref="InputBounds"/>.
/// </remarks>
/// <param name="Method">The method or composite name, in lower case.</param>
/// <param name="Arguments">Arguments as <c>name=value</c>.</param>
/// <param name="Canonizers">Canonizer names, in the order they are applied.</param>
public sealed record EvaluationConfig(string Method, IReadOnlyList<string> Arguments, IReadOnlyList<string> Canonizers)
{
    /// <summary>The plain gradient.</summary>
    public const string GradientMethod = "gradient";

    /// <summary>SmoothGrad.</summary>
    public const string SmoothGradMethod = "smoothgrad";

    /// <summary>Integrated Gradients (zero baseline).</summary>
    public const string IntegratedGradientsMethod = "integrated_gradients";

    /// <summary>Uniform noise (<see cref="UniformNoiseAttribution"/>): the control every attribution should beat.</summary>
    public const string RandomMethod = "random";

    private static readonly Dictionary<string, string[]> GradientMethods = new(StringComparer.OrdinalIgnoreCase)
    {
        [GradientMethod] = [],
        [SmoothGradMethod] = ["noise_level", "iterations", "seed"],
        [IntegratedGradientsMethod] = ["iterations"],
        [RandomMethod] = ["seed"],
    };

    /// <summary>The text form, which <see cref="Parse"/> reads back: <c>method[(args)][+canonizer...]</c>.</summary>
    public string Name => new CompositeSpec(Method, Arguments, Canonizers).ToString();

    /// <summary>Whether the method is a composite (LRP) rather than a gradient baseline.</summary>
    public bool IsComposite => !GradientMethods.ContainsKey(Method);

    /// <summary>Whether this is the uniform-noise control (<see cref="RandomMethod"/>).</summary>
    public bool IsRandom => string.Equals(Method, RandomMethod, StringComparison.OrdinalIgnoreCase);

    /// <summary>The uniform-noise control with its default seed.</summary>
    public static EvaluationConfig Random { get; } = new(RandomMethod, [], []);

    /// <summary>
    /// The configurations <c>relevance evaluate</c> compares on the demo model by default (the uniform-noise
    /// control, <see cref="Random"/>, is added to every evaluation by the command).
    /// </summary>
    public static IReadOnlyList<EvaluationConfig> DemoDefaults { get; } =
    [
        Parse("epsilon_plus_flat"),
        Parse("epsilon_plus_flat+densenet_seq_thresh"),
        Parse("epsilon_plus_flat+densenet_thresh_seq"),
        Parse("epsilon_gamma_box"),
        Parse("epsilon_gamma_box+densenet_seq_thresh"),
        Parse("epsilon_gamma_box+densenet_thresh_seq"),
        Parse("gradient"),
    ];

    /// <summary>Reads the text form (see the remarks); checks that the method and canonizers exist.</summary>
    /// <exception cref="ArgumentException">The text is malformed or names an unknown method, argument or canonizer.</exception>
    public static EvaluationConfig Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        CompositeSpec spec = CompositeSpec.Parse(text);
        string method = spec.Name;
        if (GradientMethods.TryGetValue(method, out string[]? known))
        {
            foreach (string argument in spec.Arguments)
            {
                string name = argument.Split('=')[0].Trim();
                if (!argument.Contains('=', StringComparison.Ordinal) || !known.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    throw new ArgumentException(
                        $"Configuration '{text}': '{argument}' is not an argument of {method}" +
                        (known.Length == 0 ? " (it takes none)." : $" (known: {string.Join(", ", known)})."));
                }
            }
        }
        else if (!CompositeRegistry.Names.Contains(method, StringComparer.OrdinalIgnoreCase))
        {
            throw new ArgumentException(
                $"Configuration '{text}': unknown method '{method}'; known: {GradientMethod}, {SmoothGradMethod}, {IntegratedGradientsMethod}, {RandomMethod} " +
                $"and the composites {string.Join(", ", CompositeRegistry.Names)}.");
        }
        foreach (string canonizer in spec.Canonizers)
        {
            if (!CanonizerRegistry.IsKnown(canonizer))
            {
                throw new ArgumentException(
                    $"Configuration '{text}': unknown canonizer '{canonizer}'; known: none, {string.Join(", ", CanonizerRegistry.Names)}.");
            }
        }
        if (spec.Canonizers.Count > 0 && GradientMethods.ContainsKey(method))
        {
            throw new ArgumentException(
                $"Configuration '{text}': canonizers only change LRP; {method} is computed on the model as it is, so give it without canonizers.");
        }
        return new EvaluationConfig(method, spec.Arguments, spec.Canonizers);
    }

    /// <summary>
    /// Creates the attributor for <paramref name="model"/>. <paramref name="bounds"/> supplies <c>low</c> and
    /// <c>high</c> of <c>epsilon_gamma_box</c> when the configuration does not.
    /// </summary>
    /// <exception cref="ArgumentException">An argument is missing, unknown or malformed.</exception>
    public Attributor CreateAttributor(nn.Module<Tensor, Tensor> model, InputBounds? bounds = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentReader arguments = ArgumentReader.Parse(Arguments);
        switch (Method)
        {
            case GradientMethod:
                return new Gradient(model);
            case SmoothGradMethod:
                return new SmoothGrad(model, noiseLevel: arguments.Number("noise_level", 0.1),
                    iterations: WholeNumber(arguments, "iterations", 20), seed: WholeNumber(arguments, "seed", 0));
            case IntegratedGradientsMethod:
                return new IntegratedGradients(model, iterations: WholeNumber(arguments, "iterations", 20));
            case RandomMethod:
                return new UniformNoiseAttribution(model, seed: WholeNumber(arguments, "seed", 0));
        }
        IEnumerable<string> bounding = [];
        bool needsBounds = CompositeRegistry.Get(Method).Arguments.Any(a => a.Name == "low");
        if (needsBounds && !arguments.Has("low") && !arguments.Has("high"))
        {
            if (bounds is null)
            {
                throw new ArgumentException(
                    $"{Method} needs the input bounds low and high: give them as {Method}(low=...,high=...), or evaluate a model whose input range is known.");
            }
            bounding = bounds.ToArguments();
        }
        return new Gradient(model, new CompositeSpec(Method, Arguments, Canonizers).Create(bounding));
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    private static int WholeNumber(ArgumentReader arguments, string name, int fallback)
    {
        double value = arguments.Number(name, fallback);
        if (value != Math.Floor(value) || value < int.MinValue || value > int.MaxValue)
        {
            throw new ArgumentException($"Argument '{name}' must be a whole number; got {value.ToString(CultureInfo.InvariantCulture)}.");
        }
        return (int)value;
    }
}
