using System.Globalization;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// The mean of a sample and its standard error <c>s / sqrt(n)</c>, where <c>s</c> is the sample standard deviation
/// (denominator <c>n - 1</c>). With a single value the standard error is 0; with none, both are NaN.
/// </summary>
/// <param name="Mean">The arithmetic mean.</param>
/// <param name="StandardError">The standard error of the mean.</param>
/// <param name="Count">How many values were summarized.</param>
public sealed record MeanWithError(double Mean, double StandardError, int Count)
{
    /// <summary>Summarizes the finite values of <paramref name="values"/>; NaN and infinities are left out.</summary>
    public static MeanWithError Of(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        double[] finite = values.Where(double.IsFinite).ToArray();
        int n = finite.Length;
        if (n == 0)
        {
            return new MeanWithError(double.NaN, double.NaN, 0);
        }
        double mean = finite.Average();
        if (n == 1)
        {
            return new MeanWithError(mean, 0.0, 1);
        }
        double squares = finite.Sum(v => (v - mean) * (v - mean));
        return new MeanWithError(mean, Math.Sqrt(squares / (n - 1)) / Math.Sqrt(n), n);
    }

    /// <summary>The mean and standard error as <c>mean ± error</c> with the given number format.</summary>
    public string Format(string format = "F3") =>
        double.IsNaN(Mean)
            ? "n/a"
            : $"{Mean.ToString(format, CultureInfo.InvariantCulture)} ± {StandardError.ToString(format, CultureInfo.InvariantCulture)}";

    /// <inheritdoc />
    public override string ToString() => Format();
}
