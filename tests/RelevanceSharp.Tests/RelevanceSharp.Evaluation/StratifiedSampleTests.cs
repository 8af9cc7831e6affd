using RelevanceSharp.Evaluation;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>Seeded stratified samples: equal classes, reproducible, nested, and refused when they cannot be drawn.</summary>
public class StratifiedSampleTests
{
    // 37 items of three classes, interleaved: class 0 has 10, class 1 has 12, class 2 has 15.
    private static readonly long[] Labels = Enumerable.Range(0, 37).Select(i => i < 30 ? (long)(i % 3) : i < 32 ? 1L : 2L).ToArray();

    [Fact]
    public void EveryClassGetsTheSameNumberOfDistinctItems()
    {
        int[] sample = StratifiedSample.Draw(Labels, 9, seed: 5);
        Assert.Equal(9, sample.Distinct().Count());
        Assert.Equal(sample.Order(), sample);
        Assert.All(sample.GroupBy(i => Labels[i]), group => Assert.Equal(3, group.Count()));
        Assert.Equal(3, sample.Select(i => Labels[i]).Distinct().Count());
    }

    [Fact]
    public void TheSeedFixesTheSampleAndALargerOneContainsASmallerOne()
    {
        int[] small = StratifiedSample.Draw(Labels, 9, seed: 5);
        Assert.Equal(small, StratifiedSample.Draw(Labels, 9, seed: 5));
        Assert.NotEqual(small, StratifiedSample.Draw(Labels, 9, seed: 6));
        int[] large = StratifiedSample.Draw(Labels, 24, seed: 5);
        Assert.Subset(large.ToHashSet(), small.ToHashSet());
        // All items of the smallest class when the sample asks for as many.
        Assert.Equal(Enumerable.Range(0, 37).Where(i => Labels[i] == 0), StratifiedSample.Draw(Labels, 30, seed: 1).Where(i => Labels[i] == 0));
    }

    [Fact]
    public void ImpossibleSamplesAreRefused()
    {
        Assert.Contains("multiple of the 3 classes", Assert.Throws<ArgumentException>(() => StratifiedSample.Draw(Labels, 10, 0)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => StratifiedSample.Draw(Labels, 0, 0));
        Assert.Contains("Class 0 has 10 items", Assert.Throws<ArgumentException>(() => StratifiedSample.Draw(Labels, 33, 0)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => StratifiedSample.Draw(Array.Empty<long>(), 3, 0));
    }
}
