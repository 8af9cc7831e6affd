namespace RelevanceSharp.Evaluation;

/// <summary>
/// Holm's step-down correction of p-values for multiple comparisons: it keeps the chance of any false rejection
/// among the <c>m</c> tests at the chosen level, like Bonferroni's, but rejects at least as often.
/// </summary>
/// <remarks>
/// With the p-values sorted, <c>p_(1) &lt;= ... &lt;= p_(m)</c>, the adjusted value of the i-th smallest is
/// <c>max over j &lt;= i of min(1, (m - j + 1) * p_(j))</c>: the running maximum makes the adjusted values
/// monotone in the order of the raw ones. Rejecting every hypothesis whose adjusted p-value is at most
/// <c>alpha</c> is Holm's procedure at level <c>alpha</c>. Equal p-values keep their input order when sorted,
/// which does not change their adjusted values.
/// </remarks>
public static class HolmCorrection
{
    /// <summary>The Holm-adjusted p-values, in the order of <paramref name="pValues"/>.</summary>
    /// <exception cref="ArgumentException">A p-value is not a number between 0 and 1.</exception>
    public static double[] Adjust(IReadOnlyList<double> pValues)
    {
        ArgumentNullException.ThrowIfNull(pValues);
        if (pValues.Any(p => !(p >= 0 && p <= 1)))
        {
            throw new ArgumentException("Holm's correction needs p-values between 0 and 1.", nameof(pValues));
        }
        int m = pValues.Count;
        int[] order = Enumerable.Range(0, m).OrderBy(i => pValues[i]).ToArray();
        var adjusted = new double[m];
        double running = 0;
        for (int rank = 0; rank < m; rank++)
        {
            int index = order[rank];
            running = Math.Max(running, Math.Min(1.0, (m - rank) * pValues[index]));
            adjusted[index] = running;
        }
        return adjusted;
    }
}
