namespace RelevanceSharp.Evaluation;

/// <summary>
/// Rank statistics for comparing relevance maps: average ranks (ties share the mean of the positions they occupy),
/// the Pearson correlation, and Spearman's rank correlation, which is the Pearson correlation of the ranks.
/// </summary>
public static class RankCorrelation
{
    /// <summary>
    /// The rank of each value, counted from 1 for the smallest. Tied values all get the average of the ranks they
    /// span, so <c>[10, 20, 20, 30]</c> ranks as <c>[1, 2.5, 2.5, 4]</c>.
    /// </summary>
    /// <exception cref="ArgumentException">A value is NaN.</exception>
    public static double[] Ranks(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int n = values.Count;
        var order = new int[n];
        var keys = new double[n];
        for (int i = 0; i < n; i++)
        {
            if (double.IsNaN(values[i]))
            {
                throw new ArgumentException($"Cannot rank NaN (value {i}).", nameof(values));
            }
            order[i] = i;
            keys[i] = values[i];
        }
        Array.Sort(keys, order);
        var ranks = new double[n];
        int start = 0;
        while (start < n)
        {
            int end = start + 1;
            while (end < n && keys[end] == keys[start])
            {
                end++;
            }
            // Positions start..end-1 (0-based) hold equal values: ranks start+1..end, whose mean is (start+1+end)/2.
            double shared = (start + 1 + end) / 2.0;
            for (int k = start; k < end; k++)
            {
                ranks[order[k]] = shared;
            }
            start = end;
        }
        return ranks;
    }

    /// <summary>
    /// The Pearson correlation of two equally long series; NaN when either is constant (its variance is zero) or
    /// the series have fewer than two values.
    /// </summary>
    /// <exception cref="ArgumentException">The series differ in length.</exception>
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count)
        {
            throw new ArgumentException($"The series have different lengths ({x.Count} and {y.Count}).");
        }
        int n = x.Count;
        if (n < 2)
        {
            return double.NaN;
        }
        double meanX = 0, meanY = 0;
        for (int i = 0; i < n; i++)
        {
            meanX += x[i];
            meanY += y[i];
        }
        meanX /= n;
        meanY /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++)
        {
            double dx = x[i] - meanX, dy = y[i] - meanY;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        if (sxx == 0 || syy == 0)
        {
            return double.NaN;
        }
        // Rounding can push |r| a hair above 1 for (anti-)identical series.
        return Math.Clamp(sxy / Math.Sqrt(sxx * syy), -1.0, 1.0);
    }

    /// <summary>
    /// Spearman's rank correlation: the Pearson correlation of the average ranks (<see cref="Ranks"/>). 1 when
    /// both series order their elements the same way, -1 when in reverse; NaN when either series is constant.
    /// </summary>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y) => Pearson(Ranks(x), Ranks(y));
}
