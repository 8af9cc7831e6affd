using RelevanceSharp.Evaluation;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>Patches, their relevance, the most-relevant-first order and the step at which each pixel is perturbed.</summary>
public class PatchGridTests
{
    [Fact]
    public void PatchesCoverTheImageRowByRowAndEdgePatchesAreCut()
    {
        var grid = new PatchGrid(5, 7, 3);
        Assert.Equal((2, 3, 6), (grid.Rows, grid.Columns, grid.Count));
        // Row 0 of pixels: columns 0-2 in patch 0, 3-5 in patch 1, 6 in patch 2; row 4 lies in patch row 1.
        Assert.Equal(new long[] { 0, 0, 0, 1, 1, 1, 2 }, grid.PixelPatches.Take(7));
        Assert.Equal(new long[] { 3, 3, 3, 4, 4, 4, 5 }, grid.PixelPatches.Skip(4 * 7).Take(7));
    }

    [Fact]
    public void PatchRelevanceSumsPixelsAndChannels()
    {
        using var scope = NewDisposeScope();
        var grid = new PatchGrid(4, 4, 2);
        double[] values = Values(2 * 3 * 4 * 4, 3);
        Tensor relevance = T(values, 2, 3, 4, 4);
        double[] sums = D(grid.PatchRelevance(relevance));
        for (int n = 0; n < 2; n++)
        {
            for (int patch = 0; patch < 4; patch++)
            {
                double expected = 0;
                for (int c = 0; c < 3; c++)
                {
                    for (int y = 0; y < 4; y++)
                    {
                        for (int x = 0; x < 4; x++)
                        {
                            if (y / 2 * 2 + x / 2 == patch)
                            {
                                expected += values[((n * 3 + c) * 4 + y) * 4 + x];
                            }
                        }
                    }
                }
                Assert.Equal(expected, sums[n * 4 + patch], 12);
            }
        }
        // Channel-free maps are accepted as they are.
        AssertClose(sums, grid.PatchRelevance(relevance.sum(1)), 1e-12);
    }

    [Fact]
    public void MostRelevantFirstBreaksTiesByPatchNumber()
    {
        Assert.Equal(new[] { 3, 1, 4, 0, 2 }, PatchGrid.MostRelevantFirst(new[] { 0.5, 2.0, -1.0, 3.0, 2.0 }));
        Assert.Equal(new[] { 0, 1, 2 }, PatchGrid.MostRelevantFirst(new[] { 0.0, 0.0, 0.0 }));
        Assert.Throws<ArgumentException>(() => PatchGrid.MostRelevantFirst(new[] { 1.0, double.NaN }));
    }

    [Fact]
    public void PixelStepsGiveEachPixelThePositionOfItsPatch()
    {
        using var scope = NewDisposeScope();
        var grid = new PatchGrid(2, 4, 2);
        long[] steps = grid.PixelSteps(new[] { 1, 0 }).data<long>().ToArray();
        Assert.Equal(new long[] { 1, 1, 0, 0, 1, 1, 0, 0 }, steps);
        Assert.Throws<ArgumentException>(() => grid.PixelSteps(new[] { 1, 1 }));
        Assert.Throws<ArgumentException>(() => grid.PixelSteps(new[] { 0 }));
    }
}
