using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// Sparseness (Chalasani et al. 2020, as Quantus computes it): the Gini index of the absolute attribution. 0 when every
/// element holds the same share, near 1 when one element holds it all. Higher is better: a sparse attribution singles out
/// few elements.
/// </summary>
/// <remarks>
/// Per image, over all elements of the attribution (every channel and position): <c>v = |a| / max |a|</c> (Quantus
/// normalizes by the largest magnitude; nothing when every element is zero) plus <c>1e-7</c>, sorted ascending
/// (<c>v_1 &lt;= ... &lt;= v_n</c>), and <c>Gini = sum_i (2i - n - 1) v_i / (n sum_i v_i)</c>, <c>i</c> counted from 1.
/// An all-zero attribution scores 0.
/// </remarks>
public static class Sparseness
{
    /// <summary>What Quantus adds to every normalized magnitude before the index.</summary>
    public const double Offset = 1e-7;

    /// <summary>The sparseness of each image's attribution <c>(N, ...)</c>.</summary>
    public static double[] Compute(Tensor attributions)
    {
        ArgumentNullException.ThrowIfNull(attributions);
        return Complexity.PerImage(attributions).Select(Gini).ToArray();
    }

    /// <summary>The Gini index of the magnitudes of one attribution's elements (see the remarks).</summary>
    public static double Gini(IReadOnlyList<double> attribution)
    {
        ArgumentNullException.ThrowIfNull(attribution);
        double[] v = Complexity.Normalized(attribution).Select(x => x + Offset).Order().ToArray();
        int n = v.Length;
        if (n == 0)
        {
            return 0;
        }
        double weighted = 0, total = 0;
        for (int i = 0; i < n; i++)
        {
            weighted += (2.0 * (i + 1) - n - 1) * v[i];
            total += v[i];
        }
        return weighted / (n * total);
    }
}
