using RelevanceSharp.Attribution;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// The settings <c>relevance evaluate</c> uses unless told otherwise, declared once for the command and for anything
/// that reproduces its runs (the benchmark's evaluation rate).
/// </summary>
public static class EvaluationDefaults
{
    /// <summary>The baselines perturbed with unless <c>--baseline</c> is given.</summary>
    public static IReadOnlyList<string> Baselines { get; } = ["zeros", "blur"];

    /// <summary>Images of Fashion-MNIST evaluated when <c>--count</c> is not given.</summary>
    public const int DatasetCount = 1000;

    /// <summary>Patches per step with <c>--dataset</c> unless <c>--patches-per-step</c> is given.</summary>
    public const int DatasetPatchesPerStep = 5;

    /// <summary>Random orders of the control with <c>--dataset</c> unless <c>--random-orders</c> is given.</summary>
    public const int DatasetRandomOrders = 1;

    /// <summary>Perturbed images per forward pass unless <c>--batch-size</c> is given.</summary>
    public const int BatchSize = 64;

    /// <summary>
    /// The configurations <c>relevance evaluate</c> compares on the demo model by default (the uniform-noise control,
    /// <see cref="UniformNoiseAttribution.Control"/>, is added to every evaluation).
    /// </summary>
    public static IReadOnlyList<AttributionSpec> Specs =>
    [
        .. new[] { "epsilon_plus_flat", "epsilon_plus_flat+densenet_seq_thresh", "epsilon_plus_flat+densenet_thresh_seq",
            "epsilon_gamma_box", "epsilon_gamma_box+densenet_seq_thresh", "epsilon_gamma_box+densenet_thresh_seq", "gradient" }
            .Select(AttributionSpec.Parse),
    ];

    /// <summary>
    /// The configurations of an evaluation: those given (or <see cref="Specs"/>) with the uniform-noise control added
    /// at the end unless it is among them; a configuration given twice counts once.
    /// </summary>
    /// <exception cref="ArgumentException">A text is not a spec (<see cref="AttributionSpec.Parse"/>).</exception>
    public static IReadOnlyList<AttributionSpec> Configurations(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var configs = texts.Count > 0 ? texts.Select(AttributionSpec.Parse).ToList() : Specs.ToList();
        if (!configs.Any(UniformNoiseAttribution.IsControl))
        {
            configs.Add(UniformNoiseAttribution.Control);
        }
        return configs.DistinctBy(c => c.Name).ToList();
    }
}
