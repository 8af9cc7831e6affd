using RelevanceSharp.Canonizers;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Canonizers.CanonizerTestKit;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Canonizers;

public class MergeBatchNormTests
{
    /// <summary>Model builders: (name, model, input shapes to try, expected merged batch norms).</summary>
    public static TheoryData<string> SequentialCases() => new()
    {
        "linear", "conv1d", "conv2d_strided_dilated", "conv2d_grouped_nobias", "conv3d",
        "conv_transpose2d_grouped", "conv_transpose1d_nobias",
    };

    public static TheoryData<string> RightCases() => new()
    {
        "linear", "flatten_linear", "conv1d_padded", "conv2d_zero_padding_strided", "conv2d_dilated_grouped_nobias",
        "conv2d_reflect", "conv2d_replicate", "conv2d_circular", "conv3d_padded", "conv_transpose2d", "conv2d_same",
        "conv2d_unpadded_grouped",
    };

    public static TheoryData<string> ThreshCases() => new()
    {
        "conv_inplace", "avgpool_linear", "adaptive_pool_linear", "conv_padded_strided", "linear",
    };

    private static (nn.Module<Tensor, Tensor> Model, long[][] Shapes, int Merged) BuildSequential(string name) => name switch
    {
        "linear" => (Seq(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)), new[] { new long[] { 4, 6 } }, 1),
        "conv1d" => (Seq(nn.Conv1d(3, 4, 3, padding: 1), nn.BatchNorm1d(4), nn.ReLU()), new[] { new long[] { 2, 3, 9 }, new long[] { 1, 3, 5 } }, 1),
        "conv2d_strided_dilated" => (Seq(nn.Conv2d(3, 6, 3, stride: 2, padding: 2, dilation: 2), nn.BatchNorm2d(6)), new[] { new long[] { 2, 3, 9, 11 } }, 1),
        "conv2d_grouped_nobias" => (Seq(nn.Conv2d(4, 6, 3, padding: 1, groups: 2, bias: false), nn.BatchNorm2d(6), nn.ReLU()), new[] { new long[] { 2, 4, 7, 7 } }, 1),
        "conv3d" => (Seq(nn.Conv3d(2, 4, 3, padding: 1), nn.BatchNorm3d(4)), new[] { new long[] { 1, 2, 5, 4, 6 } }, 1),
        "conv_transpose2d_grouped" => (Seq(nn.ConvTranspose2d(4, 6, 3, stride: 2, padding: 1, output_padding: 1, groups: 2), nn.BatchNorm2d(6)), new[] { new long[] { 2, 4, 5, 5 } }, 1),
        "conv_transpose1d_nobias" => (Seq(nn.ConvTranspose1d(3, 5, 4, stride: 2, bias: false), nn.BatchNorm1d(5)), new[] { new long[] { 2, 3, 7 } }, 1),
        _ => throw new ArgumentException(name),
    };

    private static (nn.Module<Tensor, Tensor> Model, long[][] Shapes, int Merged) BuildRight(string name) => name switch
    {
        "linear" => (Seq(nn.Linear(6, 5), nn.ReLU(), nn.BatchNorm1d(5), nn.Linear(5, 3)), new[] { new long[] { 4, 6 } }, 1),
        "flatten_linear" => (Seq(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 5 * 5, 3)), new[] { new long[] { 2, 3, 7, 7 } }, 1),
        "conv1d_padded" => (Seq(nn.Conv1d(3, 4, 3), nn.ReLU(), nn.BatchNorm1d(4), nn.Conv1d(4, 5, 3, padding: 1, stride: 2)), new[] { new long[] { 2, 3, 11 }, new long[] { 1, 3, 6 } }, 1),
        "conv2d_zero_padding_strided" => (Seq(nn.BatchNorm2d(3), nn.Conv2d(3, 5, 3, stride: 2, padding: 1)), new[] { new long[] { 2, 3, 8, 8 }, new long[] { 1, 3, 9, 13 } }, 1),
        "conv2d_dilated_grouped_nobias" => (Seq(nn.BatchNorm2d(4), nn.Conv2d(4, 6, 3, padding: 2, dilation: 2, groups: 2, bias: false)), new[] { new long[] { 2, 4, 9, 8 } }, 1),
        "conv2d_unpadded_grouped" => (Seq(nn.BatchNorm2d(4), nn.Conv2d(4, 6, 3, stride: 2, dilation: 2, groups: 2)), new[] { new long[] { 2, 4, 9, 8 }, new long[] { 1, 4, 7, 11 } }, 1),
        "conv2d_reflect" => (Seq(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3, padding: 1, padding_mode: PaddingModes.Reflect)), new[] { new long[] { 2, 3, 6, 7 } }, 1),
        "conv2d_replicate" => (Seq(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3, padding: 2, padding_mode: PaddingModes.Replicate)), new[] { new long[] { 2, 3, 6, 7 } }, 1),
        "conv2d_circular" => (Seq(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3, padding: 1, stride: 2, padding_mode: PaddingModes.Circular)), new[] { new long[] { 2, 3, 6, 7 } }, 1),
        "conv3d_padded" => (Seq(nn.BatchNorm3d(2), nn.Conv3d(2, 3, 3, padding: 1, stride: 2)), new[] { new long[] { 1, 2, 5, 6, 4 } }, 1),
        "conv_transpose2d" => (Seq(nn.BatchNorm2d(4), nn.ConvTranspose2d(4, 6, 3, stride: 2, padding: 1, output_padding: 1, groups: 2)), new[] { new long[] { 2, 4, 5, 6 } }, 1),
        "conv2d_same" => (Seq(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 4, Padding.Same)), new[] { new long[] { 2, 3, 7, 6 } }, 1),
        _ => throw new ArgumentException(name),
    };

    private static (nn.Module<Tensor, Tensor> Model, long[][] Shapes, int Merged) BuildThresh(string name) => name switch
    {
        "conv_inplace" => (Seq(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace: true), nn.Conv2d(4, 5, 3, padding: 1)), new[] { new long[] { 2, 3, 8, 8 }, new long[] { 1, 3, 6, 9 } }, 1),
        "avgpool_linear" => (Seq(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 3)), new[] { new long[] { 2, 3, 8, 8 } }, 1),
        "adaptive_pool_linear" => (Seq(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace: true), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)), new[] { new long[] { 2, 3, 8, 8 }, new long[] { 1, 3, 5, 11 } }, 1),
        "conv_padded_strided" => (Seq(nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 5, 3, stride: 2, padding: 1, bias: false)), new[] { new long[] { 2, 3, 9, 8 } }, 1),
        "linear" => (Seq(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)), new[] { new long[] { 4, 6 } }, 1),
        _ => throw new ArgumentException(name),
    };

    private static nn.Module<Tensor, Tensor> Seq(params nn.Module<Tensor, Tensor>[] modules)
    {
        var model = nn.Sequential(modules.Select((m, i) => ($"{i}", m)).ToArray());
        model.to(ScalarType.Float64);
        RandomizeLayers(model, 7);
        RandomizeBatchNorms(model, 11);
        model.eval();
        return model;
    }

    [Theory]
    [MemberData(nameof(SequentialCases))]
    public void SequentialMergeKeepsTheFunctionAndRestores(string name)
    {
        var (model, shapes, merged) = BuildSequential(name);
        CheckCanonizer(new SequentialMergeBatchNorm(), model, shapes, merged);
    }

    [Theory]
    [MemberData(nameof(RightCases))]
    public void RightMergeKeepsTheFunctionAndRestores(string name)
    {
        var (model, shapes, merged) = BuildRight(name);
        CheckCanonizer(new MergeBatchNormToRight(), model, shapes, merged);
    }

    [Theory]
    [MemberData(nameof(ThreshCases))]
    public void ThreshMergeKeepsTheFunctionAndRestores(string name)
    {
        var (model, shapes, merged) = BuildThresh(name);
        CheckCanonizer(new ThreshReLUMergeBatchNorm(), model, shapes, merged);
    }

    [Fact]
    public void RightMergeOfAZeroPaddedConvolutionMakesABiasThatDiffersAtTheBorders()
    {
        var (model, shapes, _) = BuildRight("conv2d_zero_padding_strided");
        using var handle = new MergeBatchNormToRight(Input(1, shapes[0])).Apply(model);
        var conv = (Conv2d)model.children().Last();
        Tensor map = RelevanceSharp.Core.LayerParameters.GetBiasOverride(conv)!.Resolve(shapes[0]);
        Assert.Equal(new long[] { 5, 4, 4 }, map.shape);
        // Interior positions see every kernel tap; the top-left corner misses the padded row and column.
        Assert.True((map[.., 1, 1] - map[.., 2, 2]).abs().max().item<double>() < 1e-12);
        Assert.True((map[.., 0, 0] - map[.., 2, 2]).abs().max().item<double>() > 1e-6);
    }

    [Fact]
    public void RightMergeOfAnUnpaddedConvolutionMakesABiasVector()
    {
        // Every output position sees whole kernels: one bias value per channel, for every input size.
        var (model, shapes, _) = BuildRight("conv2d_unpadded_grouped");
        using var handle = new MergeBatchNormToRight(Input(1, shapes[0])).Apply(model);
        var conv = (Conv2d)model.children().Last();
        var bias = RelevanceSharp.Core.LayerParameters.GetBiasOverride(conv)!;
        Assert.Equal(new long[] { 6 }, bias.Resolve(shapes[0]).shape);
        Assert.Equal(new long[] { 6 }, bias.Resolve(shapes[1]).shape);
    }

    [Fact]
    public void AMergedBatchNormIsSkippedInTheBackwardPassUnlessItTrains()
    {
        var (model, shapes, _) = BuildSequential("conv2d_strided_dilated");
        var batchNorm = model.children().OfType<BatchNorm>().Single();
        Tensor input = Input(2, shapes[0]);
        Tensor expected = InputGradient(model, input);
        using (new SequentialMergeBatchNorm(Input(1, shapes[0])).Apply(model))
        {
            // The identity is a copy of the input with a pass-through backward step: the batch norm's own backward
            // step never runs (it would give its weight a gradient), and the input gradient is unchanged.
            Tensor merged = InputGradient(model, input);
            Assert.True((merged - expected).abs().max().item<double>() < 1e-10);
            Assert.False(HasGradient(batchNorm.weight!));
            // Switched to training after the merge, it normalizes with batch statistics: no shortcut then.
            model.train();
            InputGradient(model, input);
            model.eval();
            Assert.True(HasGradient(batchNorm.weight));
        }
    }

    [Fact]
    public void PassLeavesAMergedBatchNormWithoutARuleStepOnlyWhileItIsTheIdentity()
    {
        var (model, shapes, _) = BuildSequential("conv2d_strided_dilated");
        var batchNorm = model.children().OfType<BatchNorm>().Single();
        var pass = new RelevanceSharp.Rules.Pass();
        Tensor input = Input(2, shapes[0]);
        Assert.False(pass.ChangesNothing(batchNorm));
        using (new SequentialMergeBatchNorm(Input(1, shapes[0])).Apply(model))
        {
            Tensor expected = InputGradient(model, input);
            Assert.True(pass.ChangesNothing(batchNorm));
            // With Pass attached the gradient is the one the identity gives.
            using (pass.Register(batchNorm))
            {
                Assert.True(MaxDiff(InputGradient(model, input), expected) < 1e-12);
            }
            model.train();
            Assert.False(pass.ChangesNothing(batchNorm));
            model.eval();
        }
        Assert.False(pass.ChangesNothing(batchNorm));
        // Other rules are not told they may skip anything.
        Assert.False(new RelevanceSharp.Rules.Epsilon().ChangesNothing(batchNorm));
    }

    private static bool HasGradient(Tensor parameter) =>
        parameter.grad is { IsInvalid: false } grad && grad.abs().max().item<double>() > 0;

    /// <summary>
    /// The input gradient of the summed output, by a backward pass that also fills parameter gradients (cleared
    /// first).
    /// </summary>
    private static Tensor InputGradient(nn.Module<Tensor, Tensor> model, Tensor input)
    {
        model.zero_grad();
        using var grad = enable_grad();
        Tensor x = input.detach().requires_grad_(true);
        model.call(x).sum().backward();
        return x.grad!.detach().clone();
    }

    [Fact]
    public void ABatchNormInTrainingModeIsRefusedAndTheModelIsUnchanged()
    {
        var (model, shapes, _) = BuildSequential("conv2d_strided_dilated");
        model.train();
        var snapshot = new Snapshot(model);
        var ex = Assert.Throws<InvalidOperationException>(() => new SequentialMergeBatchNorm(Input(1, shapes[0])).Apply(model));
        Assert.Contains("training mode", ex.Message);
        snapshot.AssertRestored(model);
    }

    [Fact]
    public void NamedMergeFoldsTheNamedBatchNormIntoTheNamedLayers()
    {
        var (model, shapes, _) = BuildSequential("conv2d_grouped_nobias");
        Tensor input = Input(4, shapes[0]);
        Tensor expected = Output(model, input);
        var snapshot = new Snapshot(model);
        using (new NamedMergeBatchNorm(new[] { ((IReadOnlyList<string>)new[] { "0" }, "1") }).Apply(model))
        {
            Assert.True(BatchNormState.IsMerged((BatchNorm)model.children().ElementAt(1)));
            Assert.True(MaxDiff(Output(model, input), expected) < 1e-10);
        }
        snapshot.AssertRestored(model);
        var ex = Assert.Throws<ArgumentException>(() => new NamedMergeBatchNorm(new[] { ((IReadOnlyList<string>)new[] { "0" }, "9") }).Apply(model));
        Assert.Contains("'9'", ex.Message);
        snapshot.AssertRestored(model);
    }

    [Fact]
    public void TwoCanonizersOnOneLayerRestoreInReverseOrder()
    {
        // bn0 -> conv -> bn1: the convolution takes bn0 on its input side and bn1 on its output side.
        var model = Seq(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3, padding: 1), nn.BatchNorm2d(4), nn.ReLU());
        Tensor input = Input(3, 2, 3, 6, 6);
        Tensor expected = Output(model, input);
        var snapshot = new Snapshot(model);
        var both = new CompositeCanonizer("both", new SequentialMergeBatchNorm(), new MergeBatchNormToRight());
        using (both.Apply(model))
        {
            Assert.True(MaxDiff(Output(model, input), expected) < 1e-10);
            Assert.All(model.children().OfType<BatchNorm>(), bn => Assert.True(BatchNormState.IsMerged(bn)));
        }
        snapshot.AssertRestored(model);
        Assert.Equal(0.0, MaxDiff(Output(model, input), expected));
    }

    /// <summary>Applies a canonizer lazily, checks the function on every shape, the merge count, and the restore.</summary>
    internal static void CheckCanonizer(ICanonizer canonizer, nn.Module<Tensor, Tensor> model, long[][] shapes, int merged)
    {
        Tensor[] inputs = shapes.Select((s, i) => Input(100 + i, s)).ToArray();
        Tensor[] expected = inputs.Select(x => Output(model, x)).ToArray();
        var snapshot = new Snapshot(model);
        using (canonizer.Apply(model))
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                double difference = MaxDiff(Output(model, inputs[i]), expected[i]);
                Assert.True(difference < 1e-10, $"output changed by {difference} for shape [{string.Join(", ", shapes[i])}]");
            }
            int count = model.NamedModulesWithRootForTests().OfType<BatchNorm>().Count(BatchNormState.IsMerged);
            Assert.Equal(merged, count);
        }
        snapshot.AssertRestored(model);
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(0.0, MaxDiff(Output(model, inputs[i]), expected[i]));
        }
    }
}

internal static class ModuleListing
{
    public static IEnumerable<nn.Module> NamedModulesWithRootForTests(this nn.Module model) =>
        RelevanceSharp.Core.ModuleTree.NamedModulesWithRoot(model).Select(e => e.Module);
}
