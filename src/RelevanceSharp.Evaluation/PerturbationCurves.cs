namespace RelevanceSharp.Evaluation;

/// <summary>
/// Perturbation curves of a set of images: for each image the target score <c>f_0 .. f_K</c> after perturbing
/// 0 .. K patches, with <c>f_0</c> the score of the unperturbed image.
/// </summary>
public sealed class PerturbationCurves
{
    private readonly double[][] curves;

    /// <summary>Wraps per-image curves, which must all have the same length (at least 1).</summary>
    public PerturbationCurves(IEnumerable<double[]> perImage)
    {
        ArgumentNullException.ThrowIfNull(perImage);
        curves = perImage.Select(c => (double[])c.Clone()).ToArray();
        if (curves.Length == 0)
        {
            throw new ArgumentException("There are no curves.", nameof(perImage));
        }
        int length = curves[0].Length;
        if (length < 1 || curves.Any(c => c.Length != length))
        {
            throw new ArgumentException("All curves must have the same, non-zero length.", nameof(perImage));
        }
        Aopc = curves.Select(RegionPerturbation.Aopc).ToArray();
        AopcSummary = MeanWithError.Of(Aopc);
        MeanCurve = Enumerable.Range(0, length).Select(k => MeanWithError.Of(curves.Select(c => c[k]))).ToArray();
    }

    /// <summary>The curve of each image.</summary>
    public IReadOnlyList<IReadOnlyList<double>> PerImage => curves;

    /// <summary>Number of images.</summary>
    public int Images => curves.Length;

    /// <summary>Number of perturbation steps K (each curve has K + 1 values).</summary>
    public int Steps => curves[0].Length - 1;

    /// <summary>The area over the perturbation curve of each image (<see cref="RegionPerturbation.Aopc"/>).</summary>
    public IReadOnlyList<double> Aopc { get; }

    /// <summary>Mean and standard error of <see cref="Aopc"/> over the images.</summary>
    public MeanWithError AopcSummary { get; }

    /// <summary>Mean and standard error over the images of the score after each step 0 .. K.</summary>
    public IReadOnlyList<MeanWithError> MeanCurve { get; }
}

/// <summary>
/// The measures an evaluation gives for each image: the three of region perturbation, one per baseline
/// (<see cref="FaithfulnessMeasures.All"/>), and four that need no baseline (<see cref="FaithfulnessMeasures.WithoutBaseline"/>).
/// Each is a number per image; which way is better differs (<see cref="FaithfulnessMeasures.HigherIsBetter"/>).
/// </summary>
public enum FaithfulnessMeasure
{
    /// <summary>AOPC of the most-relevant-first order: how fast the score falls when the attribution's top patches go first. Higher is better.</summary>
    MorfAopc,

    /// <summary>AOPC of the least-relevant-first order: how fast the score falls when its bottom patches go first. Lower is better.</summary>
    LerfAopc,

    /// <summary>
    /// The area between the LeRF and MoRF curves, <c>1/(K+1) * sum_k (LeRF_k - MoRF_k)</c> = AOPC(MoRF) - AOPC(LeRF).
    /// A baseline that lowers the score by itself moves both curves alike, so this is less sensitive to the
    /// baseline than either AOPC. Higher is better.
    /// </summary>
    Abpc,

    /// <summary>Captum's infidelity (<see cref="Evaluation.Infidelity"/>). Lower is better.</summary>
    Infidelity,

    /// <summary>Captum's max-sensitivity (<see cref="Evaluation.SensitivityMax"/>). Lower is better (more robust).</summary>
    SensitivityMax,

    /// <summary>Quantus's sparseness, the Gini index of the absolute attribution (<see cref="Evaluation.Sparseness"/>). Higher is better.</summary>
    Sparseness,

    /// <summary>Quantus's complexity, the entropy of the absolute attribution's shares (<see cref="Evaluation.Complexity"/>). Lower is better.</summary>
    Complexity,
}

/// <summary>Names and directions of the <see cref="FaithfulnessMeasure"/>s.</summary>
public static class FaithfulnessMeasures
{
    /// <summary>The measures of region perturbation, one per baseline, in the order reports list them.</summary>
    public static IReadOnlyList<FaithfulnessMeasure> All { get; } = [FaithfulnessMeasure.MorfAopc, FaithfulnessMeasure.LerfAopc, FaithfulnessMeasure.Abpc];

    /// <summary>The measures that need no baseline, in the order reports list them.</summary>
    public static IReadOnlyList<FaithfulnessMeasure> WithoutBaseline { get; } =
        [FaithfulnessMeasure.Infidelity, FaithfulnessMeasure.SensitivityMax, FaithfulnessMeasure.Sparseness, FaithfulnessMeasure.Complexity];

    /// <summary>Whether the measure is one of region perturbation, given per baseline.</summary>
    public static bool UsesBaseline(this FaithfulnessMeasure measure) => measure <= FaithfulnessMeasure.Abpc;

    /// <summary>The measure as reports name it: <c>AOPC (MoRF)</c>, <c>AOPC (LeRF)</c>, <c>ABPC</c>, <c>infidelity</c>, ...</summary>
    public static string Label(this FaithfulnessMeasure measure) => measure switch
    {
        FaithfulnessMeasure.MorfAopc => "AOPC (MoRF)",
        FaithfulnessMeasure.LerfAopc => "AOPC (LeRF)",
        FaithfulnessMeasure.Abpc => "ABPC",
        FaithfulnessMeasure.Infidelity => "infidelity",
        FaithfulnessMeasure.SensitivityMax => "sensitivity-max",
        FaithfulnessMeasure.Sparseness => "sparseness",
        _ => "complexity",
    };

    /// <summary>A short name for files: <c>morf_aopc</c>, <c>lerf_aopc</c>, <c>abpc</c>, <c>infidelity</c>, <c>sensitivity_max</c>, ...</summary>
    public static string Key(this FaithfulnessMeasure measure) => measure switch
    {
        FaithfulnessMeasure.MorfAopc => "morf_aopc",
        FaithfulnessMeasure.LerfAopc => "lerf_aopc",
        FaithfulnessMeasure.Abpc => "abpc",
        FaithfulnessMeasure.Infidelity => "infidelity",
        FaithfulnessMeasure.SensitivityMax => "sensitivity_max",
        FaithfulnessMeasure.Sparseness => "sparseness",
        _ => "complexity",
    };

    /// <summary>
    /// Whether a higher value is better: true for AOPC (MoRF), ABPC and sparseness; false for AOPC (LeRF), infidelity,
    /// sensitivity-max and complexity.
    /// </summary>
    public static bool HigherIsBetter(this FaithfulnessMeasure measure) =>
        measure is FaithfulnessMeasure.MorfAopc or FaithfulnessMeasure.Abpc or FaithfulnessMeasure.Sparseness;

    /// <summary>What the better side of a comparison is, in words: <c>more faithful</c>, <c>more robust</c>, <c>sparser</c>, <c>less complex</c>.</summary>
    public static string Better(this FaithfulnessMeasure measure) => measure switch
    {
        FaithfulnessMeasure.SensitivityMax => "more robust",
        FaithfulnessMeasure.Sparseness => "sparser",
        FaithfulnessMeasure.Complexity => "less complex",
        _ => "more faithful",
    };
}

/// <summary>
/// Region perturbation of one attribution under one baseline: the most- and least-relevant-first curves and the
/// random-order control.
/// </summary>
public sealed class PerturbationResult
{
    /// <summary>Collects the three sets of curves, which must cover the same images with the same number of steps.</summary>
    /// <param name="mostRelevantFirst">Curves perturbing patches by decreasing relevance.</param>
    /// <param name="leastRelevantFirst">Curves perturbing patches by increasing relevance.</param>
    /// <param name="random">The random-order control.</param>
    /// <param name="baseline">The name of the baseline the patches were replaced with.</param>
    public PerturbationResult(PerturbationCurves mostRelevantFirst, PerturbationCurves leastRelevantFirst, PerturbationCurves random, string baseline)
    {
        MostRelevantFirst = mostRelevantFirst ?? throw new ArgumentNullException(nameof(mostRelevantFirst));
        LeastRelevantFirst = leastRelevantFirst ?? throw new ArgumentNullException(nameof(leastRelevantFirst));
        Random = random ?? throw new ArgumentNullException(nameof(random));
        Baseline = baseline ?? throw new ArgumentNullException(nameof(baseline));
        foreach (PerturbationCurves other in new[] { leastRelevantFirst, random })
        {
            if (mostRelevantFirst.Images != other.Images || mostRelevantFirst.Steps != other.Steps)
            {
                throw new ArgumentException(
                    $"The curves do not match: {mostRelevantFirst.Images} images with {mostRelevantFirst.Steps} steps against {other.Images} with {other.Steps}.");
            }
        }
        AopcDifference = MeanWithError.Of(mostRelevantFirst.Aopc.Zip(random.Aopc, (morf, chance) => morf - chance));
        Abpc = mostRelevantFirst.Aopc.Zip(leastRelevantFirst.Aopc, (morf, lerf) => morf - lerf).ToArray();
    }

    /// <summary>Curves perturbing patches by decreasing relevance (MoRF).</summary>
    public PerturbationCurves MostRelevantFirst { get; }

    /// <summary>Curves perturbing patches by increasing relevance (LeRF).</summary>
    public PerturbationCurves LeastRelevantFirst { get; }

    /// <summary>Curves perturbing patches in random order (each image's curve the mean over its random orders).</summary>
    public PerturbationCurves Random { get; }

    /// <summary>The name of the baseline.</summary>
    public string Baseline { get; }

    /// <summary>
    /// AOPC(MoRF) - AOPC(random), per image, summarized over the images: how much faster the score falls when the
    /// attribution chooses the patches than when chance does. Larger is more faithful.
    /// </summary>
    public MeanWithError AopcDifference { get; }

    /// <summary>The area between the LeRF and MoRF curves of each image (<see cref="FaithfulnessMeasure.Abpc"/>).</summary>
    public IReadOnlyList<double> Abpc { get; }

    /// <summary>The per-image values of a measure.</summary>
    /// <exception cref="ArgumentException">The measure is not one of region perturbation.</exception>
    public IReadOnlyList<double> Scores(FaithfulnessMeasure measure) => measure switch
    {
        FaithfulnessMeasure.MorfAopc => MostRelevantFirst.Aopc,
        FaithfulnessMeasure.LerfAopc => LeastRelevantFirst.Aopc,
        FaithfulnessMeasure.Abpc => Abpc,
        _ => throw new ArgumentException($"{measure.Label()} is not a measure of region perturbation.", nameof(measure)),
    };

    /// <summary>Mean and standard error of a measure over the images.</summary>
    public MeanWithError Summary(FaithfulnessMeasure measure) => MeanWithError.Of(Scores(measure));
}
