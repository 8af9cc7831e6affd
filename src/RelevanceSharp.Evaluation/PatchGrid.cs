using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// The patches region perturbation works with: non-overlapping squares of <see cref="PatchSize"/> pixels over the
/// last two (spatial) dimensions, all channels together, numbered row by row from the top left. When the image
/// size is not a multiple of the patch size, the patches of the last row and column are cut to fit.
/// </summary>
public sealed class PatchGrid
{
    private readonly long[] pixelPatch;

    /// <summary>Lays patches of <paramref name="patchSize"/> pixels over an image of the given size.</summary>
    public PatchGrid(long height, long width, int patchSize)
    {
        if (height < 1 || width < 1)
        {
            throw new ArgumentException($"An image needs at least one pixel; got {height}x{width}.");
        }
        if (patchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(patchSize), patchSize, "The patch size must be at least 1 pixel.");
        }
        Height = height;
        Width = width;
        PatchSize = patchSize;
        Rows = (int)((height + patchSize - 1) / patchSize);
        Columns = (int)((width + patchSize - 1) / patchSize);
        pixelPatch = new long[height * width];
        for (long y = 0; y < height; y++)
        {
            for (long x = 0; x < width; x++)
            {
                pixelPatch[y * width + x] = y / patchSize * Columns + x / patchSize;
            }
        }
    }

    /// <summary>Image height in pixels.</summary>
    public long Height { get; }

    /// <summary>Image width in pixels.</summary>
    public long Width { get; }

    /// <summary>Side of a patch in pixels.</summary>
    public int PatchSize { get; }

    /// <summary>Patch rows.</summary>
    public int Rows { get; }

    /// <summary>Patch columns.</summary>
    public int Columns { get; }

    /// <summary>Number of patches.</summary>
    public int Count => Rows * Columns;

    /// <summary>The patch of each pixel, row-major: <c>(row / size) * columns + column / size</c>.</summary>
    public IReadOnlyList<long> PixelPatches => pixelPatch;

    /// <summary>
    /// The relevance of each patch: the sum of the relevance of its pixels over all channels. Accepts
    /// <c>(N, C, H, W)</c> or <c>(N, H, W)</c>; returns float64 <c>(N, Count)</c>.
    /// </summary>
    public Tensor PatchRelevance(Tensor relevance)
    {
        ArgumentNullException.ThrowIfNull(relevance);
        if (relevance.dim() is not (3 or 4) || relevance.shape[^2] != Height || relevance.shape[^1] != Width)
        {
            throw new ArgumentException(
                $"Expected relevance of shape (N, C, {Height}, {Width}) or (N, {Height}, {Width}); got [{string.Join(", ", relevance.shape)}].",
                nameof(relevance));
        }
        using var scope = NewDisposeScope();
        Tensor maps = relevance.detach().to(ScalarType.Float64);
        if (maps.dim() == 4)
        {
            maps = maps.sum(1);
        }
        long n = maps.shape[0];
        Tensor index = tensor(pixelPatch, device: maps.device).expand(n, -1);
        Tensor sums = zeros(new[] { n, (long)Count }, ScalarType.Float64, maps.device);
        return sums.scatter_add_(1, index, maps.reshape(n, -1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The most-relevant-first (MoRF) order: patch numbers by decreasing relevance; patches of equal relevance in
    /// increasing number, so the order is deterministic.
    /// </summary>
    public static int[] MostRelevantFirst(IReadOnlyList<double> patchRelevance)
    {
        ArgumentNullException.ThrowIfNull(patchRelevance);
        if (patchRelevance.Any(double.IsNaN))
        {
            throw new ArgumentException("Patch relevance contains NaN; the relevance cannot be ordered.", nameof(patchRelevance));
        }
        return Enumerable.Range(0, patchRelevance.Count)
            .OrderByDescending(p => patchRelevance[p])
            .ThenBy(p => p)
            .ToArray();
    }

    /// <summary>
    /// The least-relevant-first (LeRF) order: the most-relevant-first order reversed, so patches by increasing
    /// relevance and patches of equal relevance in decreasing number.
    /// </summary>
    public static int[] LeastRelevantFirst(IReadOnlyList<double> patchRelevance)
    {
        int[] order = MostRelevantFirst(patchRelevance);
        Array.Reverse(order);
        return order;
    }

    /// <summary>
    /// For an order of the patches, the position of each pixel's patch in <paramref name="order"/>. When the first
    /// <c>m</c> patches of the order are perturbed, exactly the pixels with a value below <c>m</c> are.
    /// Returns int64 <c>(H, W)</c>.
    /// </summary>
    public Tensor PixelSteps(IReadOnlyList<int> order, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(order);
        if (order.Count != Count)
        {
            throw new ArgumentException($"An order must list all {Count} patches; got {order.Count}.", nameof(order));
        }
        var position = new long[Count];
        Array.Fill(position, -1);
        for (int k = 0; k < order.Count; k++)
        {
            int patch = order[k];
            if (patch < 0 || patch >= Count || position[patch] >= 0)
            {
                throw new ArgumentException($"An order must list every patch 0..{Count - 1} exactly once; patch {patch} is out of range or repeated.", nameof(order));
            }
            position[patch] = k;
        }
        var steps = new long[pixelPatch.Length];
        for (int i = 0; i < steps.Length; i++)
        {
            steps[i] = position[pixelPatch[i]];
        }
        return tensor(steps, new[] { Height, Width }, device: device);
    }
}
