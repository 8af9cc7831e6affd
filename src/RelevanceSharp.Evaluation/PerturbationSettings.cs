namespace RelevanceSharp.Evaluation;

/// <summary>Which number of the model output a perturbation curve records for the target class.</summary>
public enum PerturbationScore
{
    /// <summary>The model's raw output (logit) for the target class.</summary>
    Logit,

    /// <summary>The softmax probability of the target class.</summary>
    Probability,
}

/// <summary>Progress of a long evaluation: what is being done, and how much of it is done.</summary>
/// <param name="Stage">What is running, e.g. <c>epsilon_plus_flat: perturbation</c>.</param>
/// <param name="Done">Units done so far in this stage (forward passes of perturbed images, or randomization steps).</param>
/// <param name="Total">Units in this stage.</param>
public sealed record EvaluationProgress(string Stage, long Done, long Total);

/// <summary>Settings of region perturbation (<see cref="RegionPerturbation"/>).</summary>
public sealed record PerturbationSettings
{
    /// <summary>Images with at most this many patches are perturbed completely by default.</summary>
    public const int AllPatchesUpTo = 100;

    /// <summary>Side of the square patches, in pixels.</summary>
    public int PatchSize { get; init; } = 4;

    /// <summary>
    /// Number of perturbation steps K (one patch per step; capped at the number of patches), or <c>null</c> for the
    /// default: all patches when an image has at most <see cref="AllPatchesUpTo"/>, else 20% of them (rounded up).
    /// </summary>
    public int? Steps { get; init; }

    /// <summary>What perturbed patches are replaced with.</summary>
    public PerturbationBaseline Baseline { get; init; } = PerturbationBaseline.Zeros;

    /// <summary>The number recorded after each step.</summary>
    public PerturbationScore Score { get; init; } = PerturbationScore.Logit;

    /// <summary>
    /// How many random orders the control averages per image. Order <c>r</c> of the image at index <c>i</c> is a
    /// permutation drawn from a generator seeded by <see cref="Seed"/>, <c>i</c> and <c>r</c>.
    /// </summary>
    public int RandomOrders { get; init; } = 3;

    /// <summary>Seed of the random orders.</summary>
    public long Seed { get; init; }

    /// <summary>At most this many perturbed images go through the model in one forward pass.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>The number of steps for images with <paramref name="patchCount"/> patches.</summary>
    public int StepsFor(int patchCount)
    {
        int steps = Steps ?? (patchCount <= AllPatchesUpTo ? patchCount : (int)Math.Ceiling(0.2 * patchCount));
        return Math.Min(steps, patchCount);
    }

    /// <summary>Throws <see cref="ArgumentException"/> for settings that cannot work.</summary>
    public void Validate()
    {
        if (PatchSize < 1)
        {
            throw new ArgumentException($"The patch size must be at least 1 pixel; got {PatchSize}.");
        }
        if (Steps is < 1)
        {
            throw new ArgumentException($"The number of steps must be at least 1; got {Steps}.");
        }
        if (RandomOrders < 1)
        {
            throw new ArgumentException($"At least one random order is needed; got {RandomOrders}.");
        }
        if (BatchSize < 1)
        {
            throw new ArgumentException($"The batch size must be at least 1; got {BatchSize}.");
        }
        ArgumentNullException.ThrowIfNull(Baseline);
    }
}
