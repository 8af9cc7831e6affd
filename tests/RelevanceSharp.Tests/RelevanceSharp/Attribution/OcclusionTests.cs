using RelevanceSharp.Attribution;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Attribution;

/// <summary>Occlusion against a plain loop over mask positions.</summary>
public class OcclusionTests
{
    private const int Batch = 2, Channels = 3, Size = 5;

    private static Sequential Model()
    {
        Sequential model = nn.Sequential(
            ("0", nn.Flatten()),
            ("1", nn.Linear(Channels * Size * Size, 6, dtype: ScalarType.Float64)),
            ("2", nn.ReLU()),
            ("3", nn.Linear(6, 3, dtype: ScalarType.Float64)));
        return Engine.TestNets.Fill(model, 91);
    }

    private static double[] InputValues => Values(Batch * Channels * Size * Size, 92);

    /// <summary>
    /// The expected occlusion map: for every offset of the stride grid, a window anchored there and wrapped
    /// cyclically; the model sees the input kept inside the window (<paramref name="keepWindow"/>) or outside it,
    /// zeros elsewhere, and the target score of each sample is added wherever the window covers it.
    /// </summary>
    private static double[] ByHand(nn.Module<Tensor, Tensor> model, double[] x, int[] window, int[] stride, int target, bool keepWindow)
    {
        int[] shape = { Channels, Size, Size };
        var result = new double[x.Length];
        int perSample = Channels * Size * Size;
        for (int oc = 0; oc < Channels; oc += stride[0])
        {
            for (int oh = 0; oh < Size; oh += stride[1])
            {
                for (int ow = 0; ow < Size; ow += stride[2])
                {
                    var mask = new bool[perSample];
                    for (int c = 0; c < Channels; c++)
                    {
                        for (int h = 0; h < Size; h++)
                        {
                            for (int w = 0; w < Size; w++)
                            {
                                mask[(c * Size + h) * Size + w] = (c - oc + shape[0]) % shape[0] < window[0]
                                    && (h - oh + shape[1]) % shape[1] < window[1]
                                    && (w - ow + shape[2]) % shape[2] < window[2];
                            }
                        }
                    }
                    var occluded = new double[x.Length];
                    for (int i = 0; i < x.Length; i++)
                    {
                        occluded[i] = mask[i % perSample] == keepWindow ? x[i] : 0.0;
                    }
                    double[] scores;
                    using (no_grad())
                    {
                        scores = D(model.call(T(occluded, Batch, Channels, Size, Size)));
                    }
                    for (int i = 0; i < x.Length; i++)
                    {
                        if (mask[i % perSample])
                        {
                            result[i] += scores[i / perSample * 3 + target];
                        }
                    }
                }
            }
        }
        return result;
    }

    [Fact]
    public void OneWindowSizeAppliesToAllButTheBatchAndWrapsAround()
    {
        // Window 2 and stride 2 on (2, 3, 5, 5): windows of 2 channels x 2 x 2 at channel offsets 0 and 2 and
        // spatial offsets 0, 2 and 4; those at the last offsets wrap around to the first channel, row or column.
        using var scope = NewDisposeScope();
        Sequential model = Model();
        var occlusion = new Occlusion(model, window: new long[] { 2 }, stride: new long[] { 2 });
        using AttributionResult result = occlusion.Attribute(T(InputValues, Batch, Channels, Size, Size), AttributionTarget.ClassScore(1));
        AssertClose(ByHand(model, InputValues, new[] { 2, 2, 2 }, new[] { 2, 2, 2 }, 1, keepWindow: true), result.Relevance);
        using (no_grad())
        {
            AssertClose(D(model.call(T(InputValues, Batch, Channels, Size, Size))), result.Output, 1e-14, "output");
        }
    }

    [Fact]
    public void AWindowLargerThanADimensionIsCappedAtIt()
    {
        // Window 8 covers all 3 channels and the whole 5 x 5 image: one occluded input, the input itself.
        using var scope = NewDisposeScope();
        Sequential model = Model();
        var occlusion = new Occlusion(model, window: new long[] { 8 }, stride: new long[] { 8 });
        using AttributionResult result = occlusion.Attribute(T(InputValues, Batch, Channels, Size, Size), AttributionTarget.ClassScore(2));
        AssertClose(ByHand(model, InputValues, new[] { 3, 5, 5 }, new[] { 3, 5, 5 }, 2, keepWindow: true), result.Relevance);
        double[] output = D(result.Output);
        Assert.Equal(output[2], D(result.Relevance)[0], 12);
        Assert.Equal(output[5], D(result.Relevance)[^1], 12);
    }

    [Fact]
    public void SizesForTheLastDimensionsLeaveTheLeadingOnesWhole()
    {
        // Window (3, 2) with stride (1, 3) on the two spatial dimensions; channels are taken whole.
        using var scope = NewDisposeScope();
        Sequential model = Model();
        var occlusion = new Occlusion(model, window: new long[] { 3, 2 }, stride: new long[] { 1, 3 }, batchSize: 4);
        using AttributionResult result = occlusion.Attribute(T(InputValues, Batch, Channels, Size, Size), AttributionTarget.ClassScore(0));
        AssertClose(ByHand(model, InputValues, new[] { 3, 3, 2 }, new[] { 3, 1, 3 }, 0, keepWindow: true), result.Relevance);
    }

    [Fact]
    public void WindowAndStrideMayDifferInLength()
    {
        // Window (3, 2) on the two spatial dimensions (channels whole), one stride of 2 for every dimension but the batch.
        using var scope = NewDisposeScope();
        Sequential model = Model();
        var occlusion = new Occlusion(model, window: new long[] { 3, 2 }, stride: new long[] { 2 }, batchSize: 4);
        using AttributionResult result = occlusion.Attribute(T(InputValues, Batch, Channels, Size, Size), AttributionTarget.ClassScore(1));
        AssertClose(ByHand(model, InputValues, new[] { Channels, 3, 2 }, new[] { Math.Min(2, Channels), 2, 2 }, 1, keepWindow: true), result.Relevance);
    }

    [Fact]
    public void TheClassicVariantOccludesTheWindowInstead()
    {
        using var scope = NewDisposeScope();
        Sequential model = Model();
        var occlusion = new Occlusion(model, window: new long[] { 2 }, stride: new long[] { 2 },
            occlusion: Occlusion.OccludeWindow(x => zeros_like(x)));
        using AttributionResult result = occlusion.Attribute(T(InputValues, Batch, Channels, Size, Size), AttributionTarget.ClassScore(1));
        AssertClose(ByHand(model, InputValues, new[] { 2, 2, 2 }, new[] { 2, 2, 2 }, 1, keepWindow: false), result.Relevance);
    }
}
