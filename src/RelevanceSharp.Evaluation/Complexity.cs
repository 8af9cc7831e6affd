using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// Complexity (Bhatt et al. 2020, as Quantus computes it): the entropy of each element's share of the total absolute
/// attribution. From 0 (one element holds everything) to <c>ln n</c> (all hold the same share). Lower is better: a simple
/// attribution explains with few elements.
/// </summary>
/// <remarks>
/// Per image, over all elements of the attribution: <c>p_i = |a_i| / sum_j |a_j|</c> and
/// <c>complexity = -sum_i p_i ln p_i</c> (natural logarithm, <c>0 ln 0 = 0</c>, as <c>scipy.stats.entropy</c>). An all-zero
/// attribution singles out nothing and scores <c>ln n</c>, the uniform share's entropy.
/// </remarks>
public static class Complexity
{
    /// <summary>The complexity of each image's attribution <c>(N, ...)</c>.</summary>
    public static double[] Compute(Tensor attributions)
    {
        ArgumentNullException.ThrowIfNull(attributions);
        return PerImage(attributions).Select(Entropy).ToArray();
    }

    /// <summary>The entropy of the magnitudes' shares of one attribution's elements (see the remarks).</summary>
    public static double Entropy(IReadOnlyList<double> attribution)
    {
        ArgumentNullException.ThrowIfNull(attribution);
        int n = attribution.Count;
        double total = attribution.Sum(Math.Abs);
        if (n == 0)
        {
            return 0;
        }
        if (total == 0)
        {
            return Math.Log(n);
        }
        double entropy = 0;
        foreach (double value in attribution)
        {
            double p = Math.Abs(value) / total;
            if (p > 0)
            {
                entropy -= p * Math.Log(p);
            }
        }
        return entropy;
    }

    /// <summary>The magnitudes divided by the largest one (left as they are when all are zero).</summary>
    internal static double[] Normalized(IReadOnlyList<double> attribution)
    {
        double max = attribution.Count == 0 ? 0 : attribution.Max(Math.Abs);
        return attribution.Select(a => max == 0 ? Math.Abs(a) : Math.Abs(a) / max).ToArray();
    }

    /// <summary>Each image's attribution as its elements, in double precision.</summary>
    internal static IEnumerable<double[]> PerImage(Tensor attributions)
    {
        using var scope = NewDisposeScope();
        long images = attributions.shape[0];
        double[] values = attributions.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
        int size = images == 0 ? 0 : (int)(values.Length / images);
        return Enumerable.Range(0, (int)images).Select(i => values[(i * size)..((i + 1) * size)]).ToList();
    }
}
