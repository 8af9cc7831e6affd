using RelevanceSharp.Evaluation;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>Holm's step-down correction on lists adjusted by hand.</summary>
public class HolmCorrectionTests
{
    [Fact]
    public void AKnownListIsAdjustedStepByStep()
    {
        // Sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> raised to 0.06 to stay monotone.
        double[] adjusted = HolmCorrection.Adjust(new[] { 0.01, 0.04, 0.03, 0.005 });
        Assert.Equal(new[] { 0.03, 0.06, 0.06, 0.02 }, adjusted.Select(p => Math.Round(p, 12)));
    }

    [Fact]
    public void AdjustedValuesAreCappedAtOneAndNeverBelowTheRawOnes()
    {
        Assert.Equal(new[] { 1.0, 1.0 }, HolmCorrection.Adjust(new[] { 0.6, 0.5 }));
        double[] raw = { 0.001, 0.2, 0.011, 0.012, 0.5, 0.0001 };
        double[] adjusted = HolmCorrection.Adjust(raw);
        // 0.0001 * 6 = 0.0006, 0.001 * 5 = 0.005, 0.011 * 4 = 0.044, 0.012 * 3 = 0.036 -> 0.044, 0.2 * 2 = 0.4, 0.5 * 1 -> 0.5.
        Assert.Equal(new[] { 0.005, 0.4, 0.044, 0.044, 0.5, 0.0006 }, adjusted.Select(p => Math.Round(p, 12)));
        Assert.All(raw.Zip(adjusted), pair => Assert.True(pair.Second >= pair.First));
    }

    [Fact]
    public void OneTestIsLeftAloneAndBadValuesAreRefused()
    {
        Assert.Equal(new[] { 0.03 }, HolmCorrection.Adjust(new[] { 0.03 }));
        Assert.Empty(HolmCorrection.Adjust(Array.Empty<double>()));
        Assert.Throws<ArgumentException>(() => HolmCorrection.Adjust(new[] { 0.1, 1.5 }));
        Assert.Throws<ArgumentException>(() => HolmCorrection.Adjust(new[] { double.NaN }));
    }
}
