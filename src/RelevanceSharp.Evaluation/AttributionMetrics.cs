namespace RelevanceSharp.Evaluation;

/// <summary>
/// The measures of one configuration that need no baseline, per image: sparseness and complexity always, infidelity and
/// max-sensitivity when they ran (<see cref="EvaluationOptions.Infidelity"/>, <see cref="EvaluationOptions.Sensitivity"/>).
/// </summary>
/// <param name="Sparseness">Each image's <see cref="Evaluation.Sparseness"/>.</param>
/// <param name="Complexity">Each image's <see cref="Evaluation.Complexity"/>.</param>
public sealed record AttributionMetrics(IReadOnlyList<double> Sparseness, IReadOnlyList<double> Complexity)
{
    /// <summary>Each image's <see cref="Evaluation.Infidelity"/>, or <c>null</c> when it did not run.</summary>
    public IReadOnlyList<double>? Infidelity { get; init; }

    /// <summary>Each image's <see cref="SensitivityMax"/>, or <c>null</c> when it did not run.</summary>
    public IReadOnlyList<double>? Sensitivity { get; init; }

    /// <summary>The per-image values of a measure without baseline, or <c>null</c> when it did not run.</summary>
    /// <exception cref="ArgumentException">The measure is one of region perturbation.</exception>
    public IReadOnlyList<double>? Scores(FaithfulnessMeasure measure) => measure switch
    {
        FaithfulnessMeasure.Infidelity => Infidelity,
        FaithfulnessMeasure.SensitivityMax => Sensitivity,
        FaithfulnessMeasure.Sparseness => Sparseness,
        FaithfulnessMeasure.Complexity => Complexity,
        _ => throw new ArgumentException($"{measure.Label()} is given per baseline, by region perturbation.", nameof(measure)),
    };
}
