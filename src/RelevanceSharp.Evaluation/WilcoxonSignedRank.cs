namespace RelevanceSharp.Evaluation;

/// <summary>The outcome of <see cref="WilcoxonSignedRank.Test"/>.</summary>
/// <param name="PlusRankSum">W+: the sum of the ranks of the positive differences.</param>
/// <param name="MinusRankSum">W-: the sum of the ranks of the negative differences.</param>
/// <param name="NonZero">How many differences were ranked (those that are not zero).</param>
/// <param name="Zeros">How many differences were zero and left out.</param>
/// <param name="PValue">The two-sided p-value.</param>
/// <param name="Exact">Whether <see cref="PValue"/> comes from the exact distribution (else from the normal approximation).</param>
/// <param name="Z">The standardized statistic of the normal approximation (with continuity correction); NaN when exact.</param>
public sealed record WilcoxonResult(double PlusRankSum, double MinusRankSum, int NonZero, int Zeros, double PValue, bool Exact, double Z);

/// <summary>
/// The Wilcoxon signed-rank test of paired differences: whether they are centred on zero, judged by the ranks of
/// their sizes and their signs, without assuming a normal distribution.
/// </summary>
/// <remarks>
/// <para>
/// Zero differences are dropped before ranking (Wilcoxon's own convention, not Pratt's): they carry no sign,
/// and <see cref="WilcoxonResult.NonZero"/> counts what is left. The sizes <c>|d|</c> of the remaining
/// <c>n</c> differences get ranks 1..n, tied sizes the mean of their ranks; <c>W+</c> is the sum of the ranks
/// of the positive differences. Under the null hypothesis each sign is + or - with probability 1/2, independently.
/// </para>
/// <para>
/// For <c>n &lt;= </c><see cref="ExactLimit"/> the p-value is exact: the distribution of <c>W+</c> over all
/// <c>2^n</c> sign patterns of the observed ranks (with ties, of their mean ranks) is counted, and
/// <c>p = min(1, 2 * min(P(W+ &lt;= w), P(W+ &gt;= w)))</c>. For larger <c>n</c> it is the normal
/// approximation: mean <c>n(n+1)/4</c>, variance <c>n(n+1)(2n+1)/24 - sum(t^3 - t)/48</c> over the groups of
/// <c>t</c> tied sizes, and <c>z = (|W+ - mean| - 1/2) / sd</c> (continuity correction; 0 when negative), signed
/// like <c>W+ - mean</c>, <c>p = 2 * (1 - Phi(|z|))</c>. With no non-zero difference, <c>p = 1</c>.
/// </para>
/// </remarks>
public static class WilcoxonSignedRank
{
    /// <summary>Up to this many non-zero differences the p-value is exact.</summary>
    public const int ExactLimit = 50;

    /// <summary>Tests whether the differences are centred on zero (two-sided; see the remarks).</summary>
    /// <exception cref="ArgumentException">A difference is NaN or infinite.</exception>
    public static WilcoxonResult Test(IReadOnlyList<double> differences)
    {
        ArgumentNullException.ThrowIfNull(differences);
        if (differences.Any(d => !double.IsFinite(d)))
        {
            throw new ArgumentException("The Wilcoxon test needs finite differences; one is NaN or infinite.", nameof(differences));
        }
        double[] nonZero = differences.Where(d => d != 0).ToArray();
        int n = nonZero.Length;
        int zeros = differences.Count - n;
        if (n == 0)
        {
            return new WilcoxonResult(0, 0, 0, zeros, 1.0, Exact: true, Z: double.NaN);
        }
        double[] ranks = RankCorrelation.Ranks(nonZero.Select(Math.Abs).ToArray());
        double plus = 0;
        for (int i = 0; i < n; i++)
        {
            if (nonZero[i] > 0)
            {
                plus += ranks[i];
            }
        }
        double total = n * (n + 1) / 2.0;
        double minus = total - plus;
        if (n <= ExactLimit)
        {
            return new WilcoxonResult(plus, minus, n, zeros, ExactPValue(ranks, plus), Exact: true, Z: double.NaN);
        }
        double mean = total / 2;
        double ties = ranks.GroupBy(r => r).Sum(group => Math.Pow(group.Count(), 3) - group.Count());
        double variance = n * (n + 1.0) * (2 * n + 1) / 24 - ties / 48;
        double distance = Math.Max(0, Math.Abs(plus - mean) - 0.5);
        double z = variance > 0 ? Math.Sign(plus - mean) * distance / Math.Sqrt(variance) : 0;
        double p = Math.Min(1.0, 2 * StandardNormal.UpperTail(Math.Abs(z)));
        return new WilcoxonResult(plus, minus, n, zeros, p, Exact: false, Z: z);
    }

    /// <summary>
    /// The exact two-sided p-value of the rank sum <paramref name="plus"/> over all sign patterns of
    /// <paramref name="ranks"/> (each a multiple of 1/2).
    /// </summary>
    internal static double ExactPValue(IReadOnlyList<double> ranks, double plus)
    {
        // Doubled ranks are whole numbers even with ties, so the distribution is counted over whole sums.
        int[] doubled = ranks.Select(r => (int)Math.Round(2 * r)).ToArray();
        int maximum = doubled.Sum();
        var probability = new double[maximum + 1];
        probability[0] = 1;
        int reach = 0;
        foreach (int rank in doubled)
        {
            reach += rank;
            for (int sum = reach; sum >= 0; sum--)
            {
                double without = probability[sum] * 0.5;
                double with = sum >= rank ? probability[sum - rank] * 0.5 : 0;
                probability[sum] = without + with;
            }
        }
        int observed = (int)Math.Round(2 * plus);
        double lower = 0, upper = 0;
        for (int sum = 0; sum <= maximum; sum++)
        {
            if (sum <= observed)
            {
                lower += probability[sum];
            }
            if (sum >= observed)
            {
                upper += probability[sum];
            }
        }
        return Math.Min(1.0, 2 * Math.Min(lower, upper));
    }
}
