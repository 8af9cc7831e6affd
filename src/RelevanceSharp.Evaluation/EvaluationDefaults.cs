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
    /// The configurations of an evaluation: those given (or <see cref="EvaluationConfig.DemoDefaults"/>) with the
    /// uniform-noise control added at the end unless it is among them.
    /// </summary>
    public static IReadOnlyList<EvaluationConfig> Configurations(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var configs = texts.Count > 0 ? texts.Select(EvaluationConfig.Parse).ToList() : EvaluationConfig.DemoDefaults.ToList();
        if (!configs.Any(c => c.IsRandom))
        {
            configs.Add(EvaluationConfig.Random);
        }
        return configs.DistinctBy(c => c.Name).ToList();
    }
}
