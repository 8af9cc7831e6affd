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
    /// Number of perturbation steps K (each perturbs <see cref="PatchesPerStep"/> more patches; capped so that the
    /// last step perturbs the last patches), or <c>null</c> for the default: all patches when an image has at most
    /// <see cref="AllPatchesUpTo"/>, else 20% of them (rounded up), in steps of <see cref="PatchesPerStep"/>.
    /// </summary>
    public int? Steps { get; init; }

    /// <summary>
    /// Patches perturbed per step: after step <c>k</c> the first <c>min(k * PatchesPerStep, patches)</c> patches of
    /// the order hold the baseline. 1 (the default) records the score after every patch; more take fewer forward
    /// passes for a coarser curve.
    /// </summary>
    public int PatchesPerStep { get; init; } = 1;

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

    /// <summary>
    /// Threads that put batches through the model at the same time (1: the calling thread alone). Each runs whole
    /// forward passes of its own batches, so with libtorch at one thread per operation, two workers keep two cores
    /// busy without the waiting at every operation that multi-threaded operations of a small model incur. The
    /// results do not depend on it. The model must tolerate concurrent forward passes (modules without state that
    /// a forward pass changes, as in evaluation mode).
    /// </summary>
    public int Workers { get; init; } = 1;

    /// <summary>The number of steps for images with <paramref name="patchCount"/> patches.</summary>
    public int StepsFor(int patchCount)
    {
        int perturbed = patchCount <= AllPatchesUpTo ? patchCount : (int)Math.Ceiling(0.2 * patchCount);
        int steps = Steps ?? StepsToCover(perturbed);
        return Math.Min(steps, StepsToCover(patchCount));
    }

    /// <summary>How many patches of an image with <paramref name="patchCount"/> patches are perturbed after <paramref name="step"/> steps.</summary>
    public int PatchesAfter(int step, int patchCount) => (int)Math.Min((long)step * PatchesPerStep, patchCount);

    private int StepsToCover(int patches) => (patches + PatchesPerStep - 1) / PatchesPerStep;

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
        if (PatchesPerStep < 1)
        {
            throw new ArgumentException($"At least one patch must be perturbed per step; got {PatchesPerStep}.");
        }
        if (Workers < 1)
        {
            throw new ArgumentException($"At least one worker is needed; got {Workers}.");
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
