using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// Region perturbation ("pixel flipping", Samek et al. 2017): patches of the input are replaced by a baseline one
/// after another and the target score is recorded after each step. A faithful attribution names the patches the
/// model relies on, so perturbing them first (most relevant first, MoRF) makes the score fall faster than
/// perturbing them in random order.
/// </summary>
/// <remarks>
/// <para>
/// Patches are the squares of <see cref="PatchGrid"/>; a patch's relevance is the sum of the relevance in it over
/// all channels. The MoRF order sorts patches by decreasing relevance (ties by patch number). At step <c>k</c> the
/// first <c>k</c> patches of the order hold the baseline's pixels and all others the image's. The curve
/// <c>f_0 .. f_K</c> records the target class's logit (or softmax probability) with <c>f_0</c> the unperturbed
/// score, and <c>AOPC = 1/(K+1) * sum_{k=0..K} (f_0 - f_k)</c>.
/// </para>
/// <para>
/// The control perturbs in <see cref="PerturbationSettings.RandomOrders"/> seeded random orders per image and
/// averages their curves. The random orders depend only on the seed and the image's index, not on the
/// attribution, so every attribution of the same images is compared against the same control.
/// </para>
/// <para>
/// All perturbed versions go through the model in batches of up to <see cref="PerturbationSettings.BatchSize"/>
/// (versions of several images and orders share a batch), without gradients; each batch runs in its own dispose
/// scope. The model is used as it is: put it in evaluation mode first.
/// </para>
/// </remarks>
public sealed class RegionPerturbation
{
    // The CPU guard must be in force before this type runs its first convolution.
    static RegionPerturbation() => CpuGuard.Ensure();

    /// <summary>Creates the evaluation with the given settings (the defaults without).</summary>
    public RegionPerturbation(PerturbationSettings? settings = null)
    {
        Settings = settings ?? new PerturbationSettings();
        Settings.Validate();
    }

    /// <summary>The settings.</summary>
    public PerturbationSettings Settings { get; }

    /// <summary>The area over a perturbation curve: <c>1/(K+1) * sum_{k=0..K} (f_0 - f_k)</c>.</summary>
    public static double Aopc(IReadOnlyList<double> curve)
    {
        ArgumentNullException.ThrowIfNull(curve);
        if (curve.Count == 0)
        {
            throw new ArgumentException("A perturbation curve has at least the unperturbed score.", nameof(curve));
        }
        double total = 0;
        for (int k = 0; k < curve.Count; k++)
        {
            total += curve[0] - curve[k];
        }
        return total / curve.Count;
    }

    /// <summary>The patch grid for inputs <c>(N, C, H, W)</c>.</summary>
    public PatchGrid Grid(Tensor inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.dim() != 4)
        {
            throw new ArgumentException($"Region perturbation needs image batches (N, C, H, W); got shape [{string.Join(", ", inputs.shape)}].", nameof(inputs));
        }
        return new PatchGrid(inputs.shape[2], inputs.shape[3], Settings.PatchSize);
    }

    /// <summary>Region perturbation of one attribution: the MoRF curves and the random-order control.</summary>
    /// <param name="model">The classifier; its output is (N, classes).</param>
    /// <param name="inputs">The images <c>(N, C, H, W)</c>.</param>
    /// <param name="targets">The class whose score is recorded, per image.</param>
    /// <param name="relevance">The attribution of each image for its target, shaped like the inputs (or without channels).</param>
    /// <param name="progress">Receives the number of forward passes done, per batch.</param>
    public PerturbationResult Evaluate(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets, Tensor relevance,
        IProgress<EvaluationProgress>? progress = null) =>
        new(MostRelevantFirst(model, inputs, targets, relevance, progress), RandomOrder(model, inputs, targets, progress));

    /// <summary>The curves when patches are perturbed by decreasing relevance.</summary>
    public PerturbationCurves MostRelevantFirst(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets, Tensor relevance,
        IProgress<EvaluationProgress>? progress = null, string stage = "most relevant first")
    {
        ArgumentNullException.ThrowIfNull(relevance);
        PatchGrid grid = Grid(inputs);
        if (relevance.shape[0] != inputs.shape[0])
        {
            throw new ArgumentException($"There is relevance for {relevance.shape[0]} images but there are {inputs.shape[0]}.", nameof(relevance));
        }
        double[][] patchRelevance;
        using (Tensor sums = grid.PatchRelevance(relevance))
        {
            patchRelevance = Enumerable.Range(0, (int)sums.shape[0])
                .Select(i =>
                {
                    using Tensor row = sums[i];
                    return row.data<double>().ToArray();
                })
                .ToArray();
        }
        return Curves(model, inputs, targets, i => new[] { PatchGrid.MostRelevantFirst(patchRelevance[i]) }, progress, stage);
    }

    /// <summary>The control: curves when patches are perturbed in seeded random orders, averaged per image.</summary>
    public PerturbationCurves RandomOrder(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets,
        IProgress<EvaluationProgress>? progress = null, string stage = "random order")
    {
        PatchGrid grid = Grid(inputs);
        return Curves(model, inputs, targets, i => RandomOrders(grid.Count, i), progress, stage);
    }

    /// <summary>The random orders of the patches of the image at <paramref name="imageIndex"/>.</summary>
    public IReadOnlyList<int[]> RandomOrders(int patchCount, int imageIndex) =>
        Enumerable.Range(0, Settings.RandomOrders)
            .Select(r => Seeds.Permutation(patchCount, Seeds.Derive(Settings.Seed, imageIndex, r)))
            .ToArray();

    /// <summary>
    /// Curves for any orders: <paramref name="orders"/> gives the orders of image <c>i</c> (each listing every
    /// patch once); an image's curve is the mean of the curves of its orders.
    /// </summary>
    public PerturbationCurves Curves(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets,
        Func<int, IReadOnlyList<int[]>> orders, IProgress<EvaluationProgress>? progress = null, string stage = "perturbation")
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(orders);
        PatchGrid grid = Grid(inputs);
        int images = (int)inputs.shape[0];
        if (targets.Count != images)
        {
            throw new ArgumentException($"{targets.Count} targets were given for {images} images.", nameof(targets));
        }
        int steps = Settings.StepsFor(grid.Count);
        int length = steps + 1;

        // Every (image, order) pair contributes one curve of `length` perturbed versions.
        var work = new List<(int Image, int[] Order)>();
        for (int i = 0; i < images; i++)
        {
            IReadOnlyList<int[]> imageOrders = orders(i);
            if (imageOrders.Count == 0)
            {
                throw new ArgumentException($"No order was given for image {i}.", nameof(orders));
            }
            work.AddRange(imageOrders.Select(order => (i, order)));
        }
        var scores = work.Select(_ => new double[length]).ToArray();
        long total = (long)work.Count * length;
        long done = 0;

        using Tensor inputsDetached = inputs.detach();
        using Tensor baseline = Settings.Baseline.Create(inputsDetached);
        var pending = new List<(int Work, int First, int Count)>();
        int pendingCount = 0;
        for (int w = 0; w < work.Count; w++)
        {
            int first = 0;
            while (first < length)
            {
                int take = Math.Min(length - first, Settings.BatchSize - pendingCount);
                pending.Add((w, first, take));
                pendingCount += take;
                first += take;
                if (pendingCount == Settings.BatchSize)
                {
                    Flush();
                }
            }
        }
        Flush();

        var perImage = new double[images][];
        for (int i = 0; i < images; i++)
        {
            var mine = Enumerable.Range(0, work.Count).Where(w => work[w].Image == i).Select(w => scores[w]).ToList();
            perImage[i] = Enumerable.Range(0, length).Select(k => mine.Average(curve => curve[k])).ToArray();
        }
        return new PerturbationCurves(perImage);

        void Flush()
        {
            if (pending.Count == 0)
            {
                return;
            }
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var versions = new List<Tensor>();
                var classes = new List<long>();
                foreach (var (w, first, count) in pending)
                {
                    var (image, order) = work[w];
                    Tensor pixelSteps = grid.PixelSteps(order, inputsDetached.device);
                    Tensor stepNumbers = arange(first, first + count, dtype: ScalarType.Int64, device: inputsDetached.device).view(-1, 1, 1, 1);
                    Tensor masks = pixelSteps.unsqueeze(0).unsqueeze(0).lt(stepNumbers);
                    versions.Add(where(masks, baseline[image].unsqueeze(0), inputsDetached[image].unsqueeze(0)));
                    classes.AddRange(Enumerable.Repeat(targets[image], count));
                }
                Tensor output = model.call(versions.Count == 1 ? versions[0] : cat(versions, 0));
                double[] values = TargetScores(output, classes);
                int offset = 0;
                foreach (var (w, first, count) in pending)
                {
                    Array.Copy(values, offset, scores[w], first, count);
                    offset += count;
                }
                done += pendingCount;
            }
            pending.Clear();
            pendingCount = 0;
            progress?.Report(new EvaluationProgress(stage, done, total));
        }
    }

    /// <summary>The recorded score of each row of a model output (N, classes) for its class.</summary>
    public double[] TargetScores(Tensor output, IReadOnlyList<long> classes)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(classes);
        if (output.dim() != 2 || output.shape[0] != classes.Count)
        {
            throw new ArgumentException(
                $"Region perturbation needs a classifier output of shape ({classes.Count}, classes); got [{string.Join(", ", output.shape)}].");
        }
        foreach (long c in classes)
        {
            if (c < 0 || c >= output.shape[1])
            {
                throw new ArgumentOutOfRangeException(nameof(classes), c, $"Target class {c} is out of range: the model has {output.shape[1]} outputs.");
            }
        }
        using var scope = NewDisposeScope();
        Tensor values = Settings.Score == PerturbationScore.Probability ? output.softmax(1) : output;
        Tensor index = tensor(classes.ToArray(), device: output.device).unsqueeze(1);
        return values.detach().gather(1, index).squeeze(1).to(ScalarType.Float64).cpu().data<double>().ToArray();
    }
}
