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

/// <summary>Region perturbation of one attribution: the most-relevant-first curves and the random-order control.</summary>
public sealed class PerturbationResult
{
    /// <summary>Pairs the two sets of curves, which must cover the same images with the same number of steps.</summary>
    public PerturbationResult(PerturbationCurves mostRelevantFirst, PerturbationCurves random)
    {
        MostRelevantFirst = mostRelevantFirst ?? throw new ArgumentNullException(nameof(mostRelevantFirst));
        Random = random ?? throw new ArgumentNullException(nameof(random));
        if (mostRelevantFirst.Images != random.Images || mostRelevantFirst.Steps != random.Steps)
        {
            throw new ArgumentException(
                $"The curves do not match: {mostRelevantFirst.Images} images with {mostRelevantFirst.Steps} steps against {random.Images} with {random.Steps}.");
        }
        AopcDifference = MeanWithError.Of(mostRelevantFirst.Aopc.Zip(random.Aopc, (morf, chance) => morf - chance));
    }

    /// <summary>Curves perturbing patches by decreasing relevance (MoRF).</summary>
    public PerturbationCurves MostRelevantFirst { get; }

    /// <summary>Curves perturbing patches in random order (each image's curve the mean over its random orders).</summary>
    public PerturbationCurves Random { get; }

    /// <summary>
    /// AOPC(MoRF) - AOPC(random), per image, summarized over the images: how much faster the score falls when the
    /// attribution chooses the patches than when chance does. Larger is more faithful.
    /// </summary>
    public MeanWithError AopcDifference { get; }
}
