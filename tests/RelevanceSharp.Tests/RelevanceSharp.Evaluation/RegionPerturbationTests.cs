using RelevanceSharp.Evaluation;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>
/// Region perturbation on a linear model y = W x, where the answer is known: the contribution of a pixel to class
/// c is x * W[c], a patch's contribution is the sum over its pixels, and with the zeros baseline perturbing a set
/// of patches lowers the score by exactly their contributions.
/// </summary>
public class RegionPerturbationTests
{
    private const int Images = 3, Channels = 2, Side = 6, Patch = 2;
    private static readonly long[] Targets = { 0, 1, 0 };

    private static Sequential LinearModel()
    {
        var weight = new double[2, Channels * Side * Side];
        double[] values = Values(weight.Length, 21);
        Buffer.BlockCopy(values, 0, weight, 0, values.Length * sizeof(double));
        Sequential model = nn.Sequential(("0", nn.Flatten()), ("1", Linear(weight, bias: null)));
        model.eval();
        return model;
    }

    private static Tensor Inputs() => T(Values(Images * Channels * Side * Side, 22), Images, Channels, Side, Side);

    /// <summary>x * W[target] for each image: the exact contribution of every input element.</summary>
    private static Tensor Contributions(Sequential model, Tensor inputs)
    {
        Tensor weight = ((Linear)model[1]).weight!.detach();
        Tensor rows = weight.index_select(0, tensor(Targets)).view(Images, Channels, Side, Side);
        return inputs * rows;
    }

    private static double[] Scores(Sequential model, Tensor inputs)
    {
        using var noGrad = no_grad();
        Tensor output = model.call(inputs);
        return Enumerable.Range(0, Images).Select(i => output[i, Targets[i]].item<double>()).ToArray();
    }

    [Fact]
    public void MostRelevantFirstRemovesTheLargestContributionsFirst()
    {
        using var scope = NewDisposeScope();
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        Tensor relevance = Contributions(model, inputs);
        var evaluation = new RegionPerturbation(new PerturbationSettings { PatchSize = Patch });
        PerturbationCurves curves = evaluation.MostRelevantFirst(model, inputs, Targets, relevance);

        var grid = new PatchGrid(Side, Side, Patch);
        double[] patchSums = D(grid.PatchRelevance(relevance));
        double[] unperturbed = Scores(model, inputs);
        Assert.Equal(9, curves.Steps);
        for (int i = 0; i < Images; i++)
        {
            double[] expected = ExpectedCurve(unperturbed[i], patchSums.Skip(i * 9).Take(9).OrderByDescending(v => v));
            AssertClose(expected, curves.PerImage[i].ToArray(), 1e-12, $"curve of image {i}");
            // With every patch replaced by zeros the linear model without bias scores 0.
            Assert.Equal(0.0, curves.PerImage[i][9], 12);
        }
    }

    // The scores of the linear model as patches with the given contributions are zeroed one after another.
    private static double[] ExpectedCurve(double unperturbed, IEnumerable<double> contributions)
    {
        var curve = new List<double> { unperturbed };
        foreach (double contribution in contributions)
        {
            curve.Add(curve[^1] - contribution);
        }
        return curve.ToArray();
    }

    // The linear model, its inputs and their exact contributions.
    private static (Sequential Model, Tensor Inputs, Tensor Relevance) LinearSetup()
    {
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        return (model, inputs, Contributions(model, inputs));
    }

    [Fact]
    public void LeastRelevantFirstRemovesTheSmallestContributionsFirst()
    {
        using var scope = NewDisposeScope();
        var (model, inputs, relevance) = LinearSetup();
        PerturbationResult result = new RegionPerturbation(new PerturbationSettings { PatchSize = Patch }).Evaluate(model, inputs, Targets, relevance);

        double[] patchSums = D(new PatchGrid(Side, Side, Patch).PatchRelevance(relevance));
        double[] unperturbed = Scores(model, inputs);
        for (int i = 0; i < Images; i++)
        {
            double[] expected = ExpectedCurve(unperturbed[i], patchSums.Skip(i * 9).Take(9).OrderBy(v => v));
            AssertClose(expected, result.LeastRelevantFirst.PerImage[i].ToArray(), 1e-12, $"LeRF curve of image {i}");
            // ABPC: the mean gap between the LeRF and the MoRF curve, step by step.
            double gap = Enumerable.Range(0, 10).Average(k => result.LeastRelevantFirst.PerImage[i][k] - result.MostRelevantFirst.PerImage[i][k]);
            Assert.Equal(gap, result.Abpc[i], 12);
            Assert.True(result.Abpc[i] > 0, $"image {i}: the exact contributions must order LeRF above MoRF");
        }
        Assert.Equal(result.Abpc, result.Scores(FaithfulnessMeasure.Abpc));
        Assert.Equal(result.LeastRelevantFirst.Aopc, result.Scores(FaithfulnessMeasure.LerfAopc));
        Assert.Equal("zeros", result.Baseline);
    }

    [Fact]
    public void StepsOfSeveralPatchesSampleTheCurveOfSinglePatches()
    {
        using var scope = NewDisposeScope();
        var (model, inputs, relevance) = LinearSetup();
        PerturbationCurves fine = new RegionPerturbation(new PerturbationSettings { PatchSize = Patch }).MostRelevantFirst(model, inputs, Targets, relevance);
        // 9 patches in steps of 2: after steps 0..5, 0, 2, 4, 6, 8 and 9 patches are perturbed.
        var coarseSettings = new PerturbationSettings { PatchSize = Patch, PatchesPerStep = 2 };
        PerturbationCurves coarse = new RegionPerturbation(coarseSettings).MostRelevantFirst(model, inputs, Targets, relevance);
        Assert.Equal(5, coarse.Steps);
        Assert.Equal(new[] { 0, 2, 4, 6, 8, 9 }, Enumerable.Range(0, 6).Select(k => coarseSettings.PatchesAfter(k, 9)));
        PerturbationCurves twoSteps = new RegionPerturbation(coarseSettings with { Steps = 2 }).MostRelevantFirst(model, inputs, Targets, relevance);
        Assert.Equal(2, twoSteps.Steps);
        for (int i = 0; i < Images; i++)
        {
            AssertClose(new[] { 0, 2, 4, 6, 8, 9 }.Select(p => fine.PerImage[i][p]).ToArray(), coarse.PerImage[i].ToArray(), 1e-12, $"image {i}");
            AssertClose(new[] { 0, 2, 4 }.Select(p => fine.PerImage[i][p]).ToArray(), twoSteps.PerImage[i].ToArray(), 1e-12, $"image {i}, 2 steps");
        }
        Assert.Throws<ArgumentException>(() => new RegionPerturbation(new PerturbationSettings { PatchesPerStep = 0 }));
    }

    [Fact]
    public void SharedEndpointsAndWorkersGiveTheCurvesOfSingleOrders()
    {
        using var scope = NewDisposeScope();
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        var orders = new List<PatchOrder>();
        for (int i = 0; i < Images; i++)
        {
            orders.Add(new PatchOrder(i, Enumerable.Range(0, 9).ToArray()));
            orders.Add(new PatchOrder(i, Enumerable.Range(0, 9).Reverse().ToArray()));
            orders.Add(new PatchOrder(i, new[] { 4, 0, 8, 2, 6, 1, 7, 3, 5 }));
        }
        var settings = new PerturbationSettings { PatchSize = Patch, BatchSize = 4, Baseline = PerturbationBaseline.Blur(1.0) };
        var log = new List<EvaluationProgress>();
        IReadOnlyList<double[]> together = new RegionPerturbation(settings).OrderCurves(model, inputs, Targets, orders, new Recorder(log));
        IReadOnlyList<double[]> parallel = new RegionPerturbation(settings with { Workers = 2 }).OrderCurves(model, inputs, Targets, orders);
        for (int o = 0; o < orders.Count; o++)
        {
            PatchOrder order = orders[o];
            // The order alone (given to every image), one perturbed image per forward pass.
            double[] alone = new RegionPerturbation(settings with { BatchSize = 1 }).Curves(model, inputs, Targets, _ => new[] { order.Order.ToArray() })
                .PerImage[order.Image].ToArray();
            AssertClose(alone, together[o], 1e-12, $"order {o}");
            AssertClose(alone, parallel[o], 1e-12, $"order {o}, two workers");
        }
        // The unperturbed and the fully blurred image are scored once per image: 3 * 2 + 9 orders * 8 inner steps.
        Assert.Equal(3 * 2 + 9 * 8, log[^1].Total);
        Assert.Equal(log[^1].Total, log[^1].Done);
        Assert.Throws<ArgumentException>(() => new RegionPerturbation(settings).OrderCurves(model, inputs, Targets, [new PatchOrder(3, orders[0].Order)]));
    }

    private sealed class Recorder(List<EvaluationProgress> log) : IProgress<EvaluationProgress>
    {
        public void Report(EvaluationProgress value) => log.Add(value);
    }

    [Fact]
    public void MostRelevantFirstScoresAtLeastAsHighAsRandomOrder()
    {
        using var scope = NewDisposeScope();
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        var evaluation = new RegionPerturbation(new PerturbationSettings { PatchSize = Patch, RandomOrders = 5, Seed = 1 });
        PerturbationResult result = evaluation.Evaluate(model, inputs, Targets, Contributions(model, inputs));
        for (int i = 0; i < Images; i++)
        {
            Assert.True(result.MostRelevantFirst.Aopc[i] >= result.Random.Aopc[i] - 1e-12,
                $"image {i}: AOPC MoRF {result.MostRelevantFirst.Aopc[i]} < random {result.Random.Aopc[i]}");
        }
        Assert.True(result.AopcDifference.Mean > 0);
        Assert.Equal(Images, result.AopcDifference.Count);
    }

    [Fact]
    public void TheExactContributionOrderHasTheLargestAopcOfAllOrders()
    {
        using var scope = NewDisposeScope();
        // One channel, 4x4 pixels in 2x2 patches: 4 patches, 24 orders.
        var weight = new double[1, 16];
        double[] w = Values(16, 31);
        Buffer.BlockCopy(w, 0, weight, 0, w.Length * sizeof(double));
        Sequential model = nn.Sequential(("0", nn.Flatten()), ("1", Linear(weight, bias: null)));
        Tensor input = T(Values(16, 32), 1, 1, 4, 4);
        Tensor relevance = input * T(w, 1, 1, 4, 4);
        long[] target = { 0 };
        var evaluation = new RegionPerturbation(new PerturbationSettings { PatchSize = 2 });

        double morf = evaluation.MostRelevantFirst(model, input, target, relevance).Aopc[0];
        var all = Permutations(new[] { 0, 1, 2, 3 })
            .Select(order => evaluation.Curves(model, input, target, _ => new[] { order }).Aopc[0])
            .ToList();
        Assert.Equal(24, all.Count);
        Assert.Equal(all.Max(), morf, 12);
        Assert.True(all.Min() < morf - 1e-6, "the orders should differ");
    }

    [Fact]
    public void CurvesStartAtTheUnperturbedScoreAndHaveOneValuePerStep()
    {
        using var scope = NewDisposeScope();
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        Tensor relevance = Contributions(model, inputs);
        double[] unperturbed = Scores(model, inputs);
        foreach (var (steps, expected) in new (int?, int)[] { (null, 9), (3, 3), (50, 9) })
        {
            var evaluation = new RegionPerturbation(new PerturbationSettings { PatchSize = Patch, Steps = steps });
            PerturbationResult result = evaluation.Evaluate(model, inputs, Targets, relevance);
            foreach (PerturbationCurves curves in new[] { result.MostRelevantFirst, result.LeastRelevantFirst, result.Random })
            {
                Assert.Equal(expected, curves.Steps);
                Assert.Equal(expected + 1, curves.MeanCurve.Count);
                for (int i = 0; i < Images; i++)
                {
                    Assert.Equal(expected + 1, curves.PerImage[i].Count);
                    Assert.Equal(unperturbed[i], curves.PerImage[i][0], 12);
                }
            }
        }
    }

    [Fact]
    public void LargeImagesDefaultToTwentyPercentOfThePatches()
    {
        var settings = new PerturbationSettings();
        Assert.Equal(49, settings.StepsFor(49));
        Assert.Equal(100, settings.StepsFor(100));
        Assert.Equal(40, settings.StepsFor(196));
        Assert.Equal(157, settings.StepsFor(784));
        Assert.Equal(5, (settings with { Steps = 5 }).StepsFor(784));
    }

    [Fact]
    public void AopcIsTheMeanDropFromTheFirstScore()
    {
        Assert.Equal((0 + 1 + 3 + 2) / 4.0, RegionPerturbation.Aopc(new[] { 5.0, 4.0, 2.0, 3.0 }), 12);
        Assert.Equal(0.0, RegionPerturbation.Aopc(new[] { 1.5 }));
    }

    [Fact]
    public void BatchingDoesNotChangeTheCurves()
    {
        using var scope = NewDisposeScope();
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        Tensor relevance = Contributions(model, inputs);
        PerturbationResult Run(int batch) =>
            new RegionPerturbation(new PerturbationSettings { PatchSize = Patch, BatchSize = batch, Baseline = PerturbationBaseline.UniformNoise(3) })
                .Evaluate(model, inputs, Targets, relevance);
        PerturbationResult single = Run(1);
        foreach (int batch in new[] { 7, 10, 1000 })
        {
            PerturbationResult batched = Run(batch);
            for (int i = 0; i < Images; i++)
            {
                AssertClose(single.MostRelevantFirst.PerImage[i].ToArray(), batched.MostRelevantFirst.PerImage[i].ToArray(), 1e-12, $"MoRF, batch {batch}");
                AssertClose(single.LeastRelevantFirst.PerImage[i].ToArray(), batched.LeastRelevantFirst.PerImage[i].ToArray(), 1e-12, $"LeRF, batch {batch}");
                AssertClose(single.Random.PerImage[i].ToArray(), batched.Random.PerImage[i].ToArray(), 1e-12, $"random, batch {batch}");
            }
        }
    }

    [Fact]
    public void RandomOrdersAreReproducibleWithTheSeed()
    {
        using var scope = NewDisposeScope();
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        RegionPerturbation Make(long seed) => new(new PerturbationSettings { PatchSize = Patch, Seed = seed, RandomOrders = 3 });

        IReadOnlyList<int[]> orders = Make(7).RandomOrders(9, 2);
        Assert.Equal(3, orders.Count);
        Assert.All(orders, order => Assert.Equal(Enumerable.Range(0, 9), order.Order()));
        Assert.NotEqual(orders[0], orders[1]);
        Assert.Equal(orders, Make(7).RandomOrders(9, 2));
        Assert.NotEqual(orders, Make(8).RandomOrders(9, 2));
        Assert.NotEqual(orders, Make(7).RandomOrders(9, 1));

        PerturbationCurves first = Make(7).RandomOrder(model, inputs, Targets);
        PerturbationCurves again = Make(7).RandomOrder(model, inputs, Targets);
        PerturbationCurves other = Make(8).RandomOrder(model, inputs, Targets);
        for (int i = 0; i < Images; i++)
        {
            Assert.Equal(first.PerImage[i], again.PerImage[i]);
        }
        Assert.NotEqual(first.Aopc, other.Aopc);
    }

    [Fact]
    public void EachBaselineIsWhatTheFullyPerturbedImageBecomes()
    {
        using var scope = NewDisposeScope();
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        Tensor relevance = Contributions(model, inputs);
        foreach (PerturbationBaseline baseline in new[] { PerturbationBaseline.Zeros, PerturbationBaseline.Mean, PerturbationBaseline.Blur(1.0), PerturbationBaseline.UniformNoise(4) })
        {
            var evaluation = new RegionPerturbation(new PerturbationSettings { PatchSize = Patch, Baseline = baseline });
            PerturbationResult result = evaluation.Evaluate(model, inputs, Targets, relevance);
            double[] expected = Scores(model, baseline.Create(inputs));
            for (int i = 0; i < Images; i++)
            {
                Assert.Equal(expected[i], result.MostRelevantFirst.PerImage[i][^1], 12);
                Assert.Equal(expected[i], result.LeastRelevantFirst.PerImage[i][^1], 12);
                Assert.Equal(expected[i], result.Random.PerImage[i][^1], 12);
            }
        }
    }

    [Fact]
    public void ProbabilityScoresAreSoftmaxValues()
    {
        using var scope = NewDisposeScope();
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        var evaluation = new RegionPerturbation(new PerturbationSettings { PatchSize = Patch, Score = PerturbationScore.Probability });
        PerturbationCurves curves = evaluation.MostRelevantFirst(model, inputs, Targets, Contributions(model, inputs));
        Tensor probabilities;
        using (no_grad())
        {
            probabilities = model.call(inputs).softmax(1);
        }
        for (int i = 0; i < Images; i++)
        {
            Assert.Equal(probabilities[i, Targets[i]].item<double>(), curves.PerImage[i][0], 12);
            Assert.All(curves.PerImage[i], p => Assert.InRange(p, 0.0, 1.0));
        }
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        using var scope = NewDisposeScope();
        Sequential model = LinearModel();
        Tensor inputs = Inputs();
        var evaluation = new RegionPerturbation(new PerturbationSettings { PatchSize = Patch });
        Assert.Throws<ArgumentException>(() => evaluation.RandomOrder(model, inputs, new long[] { 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => evaluation.RandomOrder(model, inputs, new long[] { 0, 5, 0 }));
        Assert.Throws<ArgumentException>(() => evaluation.MostRelevantFirst(model, inputs, Targets, zeros(2, 2, Side, Side)));
        Assert.Throws<ArgumentException>(() => evaluation.RandomOrder(model, inputs.flatten(1), Targets));
        Assert.Throws<ArgumentException>(() => new RegionPerturbation(new PerturbationSettings { PatchSize = 0 }));
        Assert.Throws<ArgumentException>(() => new RegionPerturbation(new PerturbationSettings { Steps = 0 }));
    }

    private static IEnumerable<int[]> Permutations(int[] items)
    {
        if (items.Length <= 1)
        {
            yield return items;
            yield break;
        }
        for (int i = 0; i < items.Length; i++)
        {
            int[] rest = items.Where((_, j) => j != i).ToArray();
            foreach (int[] tail in Permutations(rest))
            {
                yield return new[] { items[i] }.Concat(tail).ToArray();
            }
        }
    }
}
