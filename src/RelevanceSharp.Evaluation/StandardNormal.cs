namespace RelevanceSharp.Evaluation;

/// <summary>Tail probabilities of the standard normal distribution, accurate to about 1e-13 relative.</summary>
internal static class StandardNormal
{
    private static readonly double InverseSqrtPi = 1 / Math.Sqrt(Math.PI);

    /// <summary><c>P(Z &gt; z) = erfc(z / sqrt(2)) / 2</c>.</summary>
    public static double UpperTail(double z) => 0.5 * Erfc(z / Math.Sqrt(2));

    /// <summary>The complementary error function <c>erfc(x) = 1 - erf(x)</c>.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x))
        {
            return double.NaN;
        }
        if (x < 0)
        {
            return 2 - Erfc(-x);
        }
        if (x < 2)
        {
            // erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n x (2x^2)^n / (1 * 3 * ... * (2n+1)): positive terms, no cancellation.
            double term = x, sum = 0;
            for (int n = 1; term > 1e-17 * sum; n++)
            {
                sum += term;
                term *= 2 * x * x / (2 * n + 1);
            }
            return 1 - 2 * InverseSqrtPi * Math.Exp(-x * x) * sum;
        }
        // The continued fraction erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated from
        // its 100th level back; for x >= 2 it has converged to double precision long before.
        double fraction = x;
        for (int k = 100; k >= 1; k--)
        {
            fraction = x + k / 2.0 / fraction;
        }
        return InverseSqrtPi * Math.Exp(-x * x) / fraction;
    }
}
