using System.Globalization;

namespace RelevanceSharp.Evaluation;

/// <summary>A confidence interval <c>[Low, High]</c> and the confidence level it was made for.</summary>
/// <param name="Low">Lower end.</param>
/// <param name="High">Upper end.</param>
/// <param name="Level">Confidence level, e.g. 0.95.</param>
public sealed record ConfidenceInterval(double Low, double High, double Level)
{
    /// <summary>Whether <paramref name="value"/> lies in the interval (ends included).</summary>
    public bool Contains(double value) => Low <= value && value <= High;

    /// <summary>The interval as <c>[low, high]</c> with the given number format.</summary>
    public string Format(string format = "F3") =>
        $"[{Low.ToString(format, CultureInfo.InvariantCulture)}, {High.ToString(format, CultureInfo.InvariantCulture)}]";

    /// <inheritdoc />
    public override string ToString() => Format();
}

/// <summary>
/// The percentile bootstrap of a mean: how far the mean of a sample (for paired comparisons, of the per-image
/// differences) could plausibly be from the population's, judged by resampling the sample itself.
/// </summary>
/// <remarks>
/// <para>
/// Resample <c>b</c> (for <c>b = 0 .. B-1</c>) draws <c>n</c> indices uniformly with replacement from the
/// <c>n</c> values and records the mean of the values drawn. All draws come, one after another (resample by
/// resample, index by index), from one SplitMix64 generator seeded with the given seed, so the interval is the
/// same on every run and machine. An index is drawn as <c>floor(u * n / 2^64)</c> from the generator's 64-bit
/// output <c>u</c>.
/// </para>
/// <para>
/// With the <c>B</c> recorded means sorted, <c>m_(1) &lt;= ... &lt;= m_(B)</c>, and <c>a = 1 - level</c>, the
/// interval is <c>[m_(ceil(B * a / 2)), m_(ceil(B * (1 - a / 2)))]</c>: the empirical quantiles at <c>a/2</c> and
/// <c>1 - a/2</c> (the smallest recorded mean whose empirical distribution function reaches the level). As B grows
/// they approach the quantiles of the exact bootstrap distribution, the mean over all <c>n^n</c> equally likely
/// index tuples.
/// </para>
/// </remarks>
public static class Bootstrap
{
    /// <summary>The default number of resamples.</summary>
    public const int DefaultResamples = 10_000;

    /// <summary>The percentile bootstrap interval of the mean of <paramref name="values"/> (see the remarks).</summary>
    /// <param name="values">The sample; at least one value, all finite.</param>
    /// <param name="resamples">Number of resamples B.</param>
    /// <param name="level">Confidence level, between 0 and 1 (exclusive).</param>
    /// <param name="seed">Seed of the generator that draws the resamples.</param>
    /// <exception cref="ArgumentException">The sample is empty or holds NaN or infinities, or a setting is out of range.</exception>
    public static ConfidenceInterval MeanInterval(IReadOnlyList<double> values, int resamples = DefaultResamples, double level = 0.95, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("The bootstrap needs at least one value.", nameof(values));
        }
        if (values.Any(v => !double.IsFinite(v)))
        {
            throw new ArgumentException("The bootstrap needs finite values; the sample holds NaN or an infinity.", nameof(values));
        }
        if (resamples < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "The bootstrap needs at least one resample.");
        }
        if (!(level > 0 && level < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "The confidence level must lie strictly between 0 and 1.");
        }
        double[] sample = values.ToArray();
        int n = sample.Length;
        var means = new double[resamples];
        var random = new SplitMix64(seed);
        for (int b = 0; b < resamples; b++)
        {
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                sum += sample[random.NextBelow(n)];
            }
            means[b] = sum / n;
        }
        Array.Sort(means);
        double tail = (1 - level) / 2;
        return new ConfidenceInterval(means[QuantileIndex(resamples, tail)], means[QuantileIndex(resamples, 1 - tail)], level);
    }

    // The 0-based position of m_(ceil(B * q)), kept inside 1..B against rounding.
    private static int QuantileIndex(int count, double q) => Math.Clamp((int)Math.Ceiling(count * q - 1e-9), 1, count) - 1;
}
