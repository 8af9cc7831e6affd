using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>One order of the patches of one image, for <see cref="RegionPerturbation.OrderCurves"/>.</summary>
/// <param name="Image">The image's index in the batch.</param>
/// <param name="Order">Every patch number once, the first perturbed first.</param>
public sealed record PatchOrder(int Image, IReadOnlyList<int> Order);

/// <summary>
/// Region perturbation ("pixel flipping", Samek et al. 2017): patches of the input are replaced by a baseline one
/// after another and the target score is recorded after each step. A faithful attribution names the patches the
/// model relies on, so perturbing them first (most relevant first, MoRF) makes the score fall faster than
/// perturbing them in random order, and perturbing the least relevant first (LeRF) makes it fall slowly.
/// </summary>
/// <remarks>
/// <para>
/// Patches are the squares of <see cref="PatchGrid"/>; a patch's relevance is the sum of the relevance in it over
/// all channels. The MoRF order sorts patches by decreasing relevance (ties by patch number), the LeRF order is
/// its reverse. After step <c>k</c> the first <see cref="PerturbationSettings.PatchesAfter"/> patches of the order
/// hold the baseline's pixels and all others the image's. The curve <c>f_0 .. f_K</c> records the target class's
/// logit (or softmax probability) with <c>f_0</c> the unperturbed score, and
/// <c>AOPC = 1/(K+1) * sum_{k=0..K} (f_0 - f_k)</c>.
/// </para>
/// <para>
/// The control perturbs in <see cref="PerturbationSettings.RandomOrders"/> seeded random orders per image and
/// averages their curves. The random orders depend only on the seed and the image's index, not on the
/// attribution, so every attribution of the same images is compared against the same control.
/// </para>
/// <para>
/// All perturbed versions go through the model in batches of up to <see cref="PerturbationSettings.BatchSize"/>
/// (versions of several images and orders share a batch), in inference mode; each batch runs in its own dispose
/// scope; with <see cref="PerturbationSettings.Workers"/> above 1, that many threads do so at the same time, each
/// with its own share of the batches. Every order of an image starts at the unperturbed image and, when the last step perturbs every patch,
/// ends at the baseline itself, so those two scores are computed once per image and call, however many orders
/// there are. The model is used as it is: put it in evaluation mode first.
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

    /// <summary>
    /// Region perturbation of one attribution: the MoRF and LeRF curves and the random-order control, in one
    /// batched pass.
    /// </summary>
    /// <param name="model">The classifier; its output is (N, classes).</param>
    /// <param name="inputs">The images <c>(N, C, H, W)</c>.</param>
    /// <param name="targets">The class whose score is recorded, per image.</param>
    /// <param name="relevance">The attribution of each image for its target, shaped like the inputs (or without channels).</param>
    /// <param name="progress">Receives the number of forward passes done, per batch.</param>
    public PerturbationResult Evaluate(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets, Tensor relevance,
        IProgress<EvaluationProgress>? progress = null) =>
        EvaluateAll(model, inputs, targets, [PatchRelevance(inputs, relevance)], progress)[0];

    /// <summary>
    /// Region perturbation of several attributions of the same images: the MoRF and LeRF curves of each and one
    /// random-order control shared by all, in one batched pass (each image's unperturbed and fully perturbed versions
    /// are scored once for all of them).
    /// </summary>
    /// <param name="model">The classifier; its output is (N, classes).</param>
    /// <param name="inputs">The images <c>(N, C, H, W)</c>.</param>
    /// <param name="targets">The class whose score is recorded, per image.</param>
    /// <param name="patchRelevance">Per attribution, the relevance of each patch of each image (<see cref="PatchRelevance"/>).</param>
    /// <param name="progress">Receives the number of forward passes done, per batch.</param>
    /// <param name="stage">The stage name the progress reports carry.</param>
    /// <returns>One result per attribution, in the order given.</returns>
    public IReadOnlyList<PerturbationResult> EvaluateAll(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets,
        IReadOnlyList<double[][]> patchRelevance, IProgress<EvaluationProgress>? progress = null, string stage = "perturbation")
    {
        ArgumentNullException.ThrowIfNull(patchRelevance);
        int images = (int)inputs.shape[0];
        int patches = Grid(inputs).Count;
        int attributions = patchRelevance.Count;
        // Per image: MoRF and LeRF of every attribution, then the random orders.
        int each = 2 * attributions + Settings.RandomOrders;
        var orders = new List<PatchOrder>(images * each);
        for (int i = 0; i < images; i++)
        {
            foreach (double[][] relevance in patchRelevance)
            {
                orders.Add(new PatchOrder(i, PatchGrid.MostRelevantFirst(relevance[i])));
                orders.Add(new PatchOrder(i, PatchGrid.LeastRelevantFirst(relevance[i])));
            }
            orders.AddRange(RandomOrders(patches, i).Select(order => new PatchOrder(i, order)));
        }
        IReadOnlyList<double[]> curves = OrderCurves(model, inputs, targets, orders, progress, stage);
        var random = new PerturbationCurves(Enumerable.Range(0, images)
            .Select(i => MeanCurve(curves.Skip(i * each + 2 * attributions).Take(Settings.RandomOrders))));
        return Enumerable.Range(0, attributions)
            .Select(a => new PerturbationResult(
                new PerturbationCurves(Enumerable.Range(0, images).Select(i => curves[i * each + 2 * a])),
                new PerturbationCurves(Enumerable.Range(0, images).Select(i => curves[i * each + 2 * a + 1])),
                random, Settings.Baseline.Name))
            .ToList();
    }

    /// <summary>The curves when patches are perturbed by decreasing relevance.</summary>
    public PerturbationCurves MostRelevantFirst(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets, Tensor relevance,
        IProgress<EvaluationProgress>? progress = null, string stage = "most relevant first")
    {
        double[][] patchRelevance = PatchRelevance(inputs, relevance);
        return Curves(model, inputs, targets, i => new[] { PatchGrid.MostRelevantFirst(patchRelevance[i]) }, progress, stage);
    }

    /// <summary>The curves when patches are perturbed by increasing relevance.</summary>
    public PerturbationCurves LeastRelevantFirst(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets, Tensor relevance,
        IProgress<EvaluationProgress>? progress = null, string stage = "least relevant first")
    {
        double[][] patchRelevance = PatchRelevance(inputs, relevance);
        return Curves(model, inputs, targets, i => new[] { PatchGrid.LeastRelevantFirst(patchRelevance[i]) }, progress, stage);
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
    /// The relevance of each patch of each image, as arrays (see <see cref="PatchGrid.PatchRelevance"/>).
    /// </summary>
    public double[][] PatchRelevance(Tensor inputs, Tensor relevance)
    {
        ArgumentNullException.ThrowIfNull(relevance);
        PatchGrid grid = Grid(inputs);
        if (relevance.shape[0] != inputs.shape[0])
        {
            throw new ArgumentException($"There is relevance for {relevance.shape[0]} images but there are {inputs.shape[0]}.", nameof(relevance));
        }
        using Tensor sums = grid.PatchRelevance(relevance);
        return Enumerable.Range(0, (int)sums.shape[0])
            .Select(i =>
            {
                using Tensor row = sums[i];
                return row.data<double>().ToArray();
            })
            .ToArray();
    }

    /// <summary>
    /// Curves for any orders: <paramref name="orders"/> gives the orders of image <c>i</c> (each listing every
    /// patch once); an image's curve is the mean of the curves of its orders.
    /// </summary>
    public PerturbationCurves Curves(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets,
        Func<int, IReadOnlyList<int[]>> orders, IProgress<EvaluationProgress>? progress = null, string stage = "perturbation")
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(orders);
        int images = (int)inputs.shape[0];
        var work = new List<PatchOrder>();
        for (int i = 0; i < images; i++)
        {
            IReadOnlyList<int[]> imageOrders = orders(i);
            if (imageOrders.Count == 0)
            {
                throw new ArgumentException($"No order was given for image {i}.", nameof(orders));
            }
            work.AddRange(imageOrders.Select(order => new PatchOrder(i, order)));
        }
        IReadOnlyList<double[]> curves = OrderCurves(model, inputs, targets, work, progress, stage);
        ILookup<int, double[]> byImage = Enumerable.Range(0, work.Count).ToLookup(w => work[w].Image, w => curves[w]);
        return new PerturbationCurves(Enumerable.Range(0, images).Select(i => MeanCurve(byImage[i])));
    }

    /// <summary>
    /// One curve per order, in the order given: the scores <c>f_0 .. f_K</c> of the order's image as its patches are
    /// perturbed in that order. Orders of any images may be mixed; all go through the model together.
    /// </summary>
    /// <param name="model">The classifier; its output is (N, classes).</param>
    /// <param name="inputs">The images <c>(N, C, H, W)</c>.</param>
    /// <param name="targets">The class whose score is recorded, per image.</param>
    /// <param name="orders">The orders, each of one image.</param>
    /// <param name="progress">Receives the number of forward passes done, per batch.</param>
    /// <param name="stage">The stage name the progress reports carry.</param>
    public IReadOnlyList<double[]> OrderCurves(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<long> targets,
        IReadOnlyList<PatchOrder> orders, IProgress<EvaluationProgress>? progress = null, string stage = "perturbation")
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
        foreach (PatchOrder order in orders)
        {
            if (order.Image < 0 || order.Image >= images)
            {
                throw new ArgumentException($"An order is for image {order.Image}, but there are {images} images.", nameof(orders));
            }
        }
        int steps = Settings.StepsFor(grid.Count);
        bool endsAtBaseline = Settings.PatchesAfter(steps, grid.Count) == grid.Count;
        var scores = orders.Select(_ => new double[steps + 1]).ToArray();

        // Segments of consecutive steps of one order (Order >= 0), or one shared step of an image (Order < 0: the
        // unperturbed image at step 0, the baseline at the last step).
        var segments = new List<(int Image, int Order, int First, int Count)>();
        int[] used = orders.Select(o => o.Image).Distinct().Order().ToArray();
        foreach (int image in used)
        {
            segments.Add((image, -1, 0, 1));
            if (endsAtBaseline)
            {
                segments.Add((image, -1, steps, 1));
            }
        }
        int interior = endsAtBaseline ? steps - 1 : steps;
        for (int o = 0; o < orders.Count && interior > 0; o++)
        {
            segments.Add((orders[o].Image, o, 1, interior));
        }
        var unperturbed = new double[images];
        var atBaseline = new double[images];
        long total = segments.Sum(s => (long)s.Count);
        long done = 0;

        using Tensor inputsDetached = inputs.detach();
        using Tensor baseline = Settings.Baseline.Create(inputsDetached);
        var progressLock = new object();
        // Segments write to places of their own, so workers can each take a contiguous share of them.
        int workers = Math.Min(Settings.Workers, segments.Count);
        if (workers <= 1)
        {
            RunSegments(0, segments.Count);
        }
        else
        {
            int[] bounds = ShareOut(segments.Select(s => (long)s.Count).ToArray(), workers);
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w => RunSegments(bounds[w], bounds[w + 1]));
        }

        for (int o = 0; o < orders.Count; o++)
        {
            scores[o][0] = unperturbed[orders[o].Image];
            if (endsAtBaseline)
            {
                scores[o][steps] = atBaseline[orders[o].Image];
            }
        }
        return scores;

        // Packs the segments from..to-1 into batches and puts each through the model.
        void RunSegments(int from, int to)
        {
            var pending = new List<(int Segment, int First, int Count)>();
            int pendingCount = 0;
            for (int s = from; s < to; s++)
            {
                int first = segments[s].First, end = first + segments[s].Count;
                while (first < end)
                {
                    int take = Math.Min(end - first, Settings.BatchSize - pendingCount);
                    pending.Add((s, first, take));
                    pendingCount += take;
                    first += take;
                    if (pendingCount == Settings.BatchSize)
                    {
                        Flush(pending);
                        pendingCount = 0;
                    }
                }
            }
            Flush(pending);
        }

        void Flush(List<(int Segment, int First, int Count)> pending)
        {
            if (pending.Count == 0)
            {
                return;
            }
            int passes = pending.Sum(p => p.Count);
            // Inference mode: like no_grad, and the tensors skip autograd's version counting, a few per cent faster.
            using (var scope = NewDisposeScope())
            using (inference_mode())
            {
                var versions = new List<Tensor>();
                var classes = new List<long>();
                foreach (var (s, first, count) in pending)
                {
                    var (image, order, _, _) = segments[s];
                    if (order < 0)
                    {
                        versions.Add((first == 0 ? inputsDetached : baseline)[image].unsqueeze(0));
                    }
                    else
                    {
                        Tensor pixelSteps = grid.PixelSteps(orders[order].Order, inputsDetached.device);
                        long[] perturbed = Enumerable.Range(first, count).Select(k => (long)Settings.PatchesAfter(k, grid.Count)).ToArray();
                        Tensor limits = tensor(perturbed, device: inputsDetached.device).view(-1, 1, 1, 1);
                        Tensor masks = pixelSteps.unsqueeze(0).unsqueeze(0).lt(limits);
                        versions.Add(where(masks, baseline[image].unsqueeze(0), inputsDetached[image].unsqueeze(0)));
                    }
                    classes.AddRange(Enumerable.Repeat(targets[image], count));
                }
                Tensor output = model.call(versions.Count == 1 ? versions[0] : cat(versions, 0));
                double[] values = TargetScores(output, classes);
                int offset = 0;
                foreach (var (s, first, count) in pending)
                {
                    var (image, order, _, _) = segments[s];
                    if (order >= 0)
                    {
                        Array.Copy(values, offset, scores[order], first, count);
                    }
                    else if (first == 0)
                    {
                        unperturbed[image] = values[offset];
                    }
                    else
                    {
                        atBaseline[image] = values[offset];
                    }
                    offset += count;
                }
            }
            pending.Clear();
            lock (progressLock)
            {
                done += passes;
                progress?.Report(new EvaluationProgress(stage, done, total));
            }
        }
    }

    // Splits items with the given sizes into `parts` contiguous runs of about equal total size; returns the parts + 1
    // boundaries (part p is items bounds[p] .. bounds[p + 1] - 1).
    private static int[] ShareOut(long[] sizes, int parts)
    {
        long total = sizes.Sum();
        var bounds = new int[parts + 1];
        long running = 0;
        int item = 0;
        for (int p = 1; p < parts; p++)
        {
            long goal = total * p / parts;
            while (item < sizes.Length && running + sizes[item] <= goal)
            {
                running += sizes[item++];
            }
            bounds[p] = item;
        }
        bounds[parts] = sizes.Length;
        return bounds;
    }

    // The step-by-step mean of curves of equal length.
    private static double[] MeanCurve(IEnumerable<double[]> curves)
    {
        double[][] all = curves.ToArray();
        return Enumerable.Range(0, all[0].Length).Select(k => all.Average(curve => curve[k])).ToArray();
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
