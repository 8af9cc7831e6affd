using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Canonizers.CanonizerTestKit;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Canonizers;

/// <summary>Canonizers decide from the traced dataflow, not from the order modules were registered in.</summary>
public class DataflowTests
{
    /// <summary>Registers a batch norm before the convolution that feeds it.</summary>
    private sealed class OutOfOrder : nn.Module<Tensor, Tensor>
    {
        private readonly BatchNorm2d bn = nn.BatchNorm2d(4);
        private readonly Conv2d conv = nn.Conv2d(3, 4, 3, padding: 1);
        private readonly Conv2d head = nn.Conv2d(4, 2, 1);

        public OutOfOrder() : base(nameof(OutOfOrder)) => RegisterComponents();

        public BatchNorm2d Bn => bn;

        public override Tensor forward(Tensor x) => head.call(bn.call(conv.call(x)).relu());
    }

    /// <summary>
    /// A dense-block-like module: the first convolution's 4 output channels are concatenated with 4 input channels
    /// before a batch norm of 8 channels; a second convolution of 8 outputs is registered right before a batch norm
    /// of 8 channels it does not feed.
    /// </summary>
    private sealed class ConcatBlock : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1 = nn.Conv2d(4, 4, 3, padding: 1);
        private readonly Conv2d conv2 = nn.Conv2d(8, 8, 1);
        private readonly BatchNorm2d norm = nn.BatchNorm2d(8);
        private readonly Conv2d conv3 = nn.Conv2d(8, 3, 1);

        public ConcatBlock() : base(nameof(ConcatBlock)) => RegisterComponents();

        public BatchNorm2d Norm => norm;

        public override Tensor forward(Tensor x)
        {
            Tensor features = cat(new[] { x, conv1.call(x) }, 1);
            Tensor normalized = norm.call(features).relu();
            return conv3.call(conv2.call(normalized).add(features, Scalars.One));
        }
    }

    /// <summary>One ReLU module used twice: after a batch norm (a ThreshReLU chain) and after a residual sum.</summary>
    private sealed class SharedReLU : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1 = nn.Conv2d(3, 4, 3, padding: 1, bias: false);
        private readonly BatchNorm2d bn = nn.BatchNorm2d(4);
        private readonly ReLU relu = nn.ReLU(inplace: true);
        private readonly Conv2d conv2 = nn.Conv2d(4, 4, 3, padding: 1);

        public SharedReLU() : base(nameof(SharedReLU)) => RegisterComponents();

        public override Tensor forward(Tensor x)
        {
            Tensor y = conv1.call(x);
            Tensor z = conv2.call(relu.call(bn.call(y)));
            return relu.call(z.add(y, Scalars.One));
        }
    }

    /// <summary>A batch norm whose output is also read by an operation the trace cannot see.</summary>
    private sealed class HiddenConsumer : nn.Module<Tensor, Tensor>
    {
        private readonly BatchNorm2d bn = nn.BatchNorm2d(3);
        private readonly Conv2d conv = nn.Conv2d(3, 3, 1);

        public HiddenConsumer() : base(nameof(HiddenConsumer)) => RegisterComponents();

        public override Tensor forward(Tensor x)
        {
            Tensor normalized = bn.call(x);
            return conv.call(normalized).add(normalized.mul(Scalars.Of(2)), Scalars.One);
        }
    }

    private static T Prepare<T>(T model) where T : nn.Module<Tensor, Tensor>
    {
        model.to(ScalarType.Float64);
        RandomizeLayers(model, 5);
        RandomizeBatchNorms(model, 9);
        model.eval();
        return model;
    }

    [Fact]
    public void RegistrationOrderDoesNotDecide()
    {
        var model = Prepare(new OutOfOrder());
        Tensor input = Input(1, 2, 3, 6, 6);
        Tensor expected = Output(model, input);
        // By registration order the batch norm precedes the convolution; in the dataflow it follows it.
        using (new MergeBatchNormToRight(input).Apply(model))
        {
            Assert.False(BatchNormState.IsMerged(model.Bn));
            Assert.Equal(0.0, MaxDiff(Output(model, input), expected));
        }
        using (new SequentialMergeBatchNorm(input).Apply(model))
        {
            Assert.True(BatchNormState.IsMerged(model.Bn));
            Assert.True(MaxDiff(Output(model, input), expected) < 1e-10);
        }
    }

    [Fact]
    public void ChannelCountsThatCoincideAcrossAConcatenationCauseNoMerge()
    {
        var model = Prepare(new ConcatBlock());
        Tensor input = Input(2, 2, 4, 5, 5);
        Tensor expected = Output(model, input);
        var snapshot = new Snapshot(model);
        foreach (ICanonizer canonizer in new ICanonizer[] { new SequentialMergeBatchNorm(input), new MergeBatchNormToRight(input), new ThreshReLUMergeBatchNorm(input) })
        {
            using (canonizer.Apply(model))
            {
                Assert.False(BatchNormState.IsMerged(model.Norm), canonizer.Name);
                Assert.Equal(0.0, MaxDiff(Output(model, input), expected));
            }
        }
        snapshot.AssertRestored(model);
    }

    [Fact]
    public void AReLUModuleUsedTwiceBecomesThreshReLUOnlyWhereItFollowsTheBatchNorm()
    {
        var model = Prepare(new SharedReLU());
        MergeBatchNormTests.CheckCanonizer(new ThreshReLUMergeBatchNorm(), model, new[] { new long[] { 2, 3, 6, 6 }, new long[] { 1, 3, 4, 7 } }, 1);
    }

    [Fact]
    public void AnOperationOutsideTheModulesMakesTheCanonizerRefuseAndRestore()
    {
        var model = Prepare(new HiddenConsumer());
        Tensor input = Input(3, 2, 3, 4, 4);
        var snapshot = new Snapshot(model);
        var ex = Assert.Throws<InvalidOperationException>(() => new MergeBatchNormToRight(input).Apply(model));
        Assert.Contains("would change the model's output", ex.Message);
        snapshot.AssertRestored(model);
    }

    [Fact]
    public void AnExceptionDuringAnAttributionRestoresTheCanonizedModel()
    {
        var model = Prepare(new SharedReLU());
        var snapshot = new Snapshot(model);
        var composite = new EpsilonPlusFlat(canonizers: new ICanonizer[] { new ThreshReLUMergeBatchNorm() });
        var attributor = new Gradient(model, composite, AttributionTarget.FromFunction(_ => throw new InvalidOperationException("target failed")));
        Assert.Throws<InvalidOperationException>(() => attributor.Attribute(Input(4, 1, 3, 5, 5)));
        snapshot.AssertRestored(model);
    }

    [Fact]
    public void LrpZeroConservesRelevanceOnACanonizedModel()
    {
        var model = nn.Sequential(
            ("conv1", nn.Conv2d(3, 6, 3, padding: 1)), ("bn1", nn.BatchNorm2d(6)), ("relu1", nn.ReLU()),
            ("bn2", nn.BatchNorm2d(6)), ("relu2", nn.ReLU()), ("conv2", nn.Conv2d(6, 5, 3, stride: 2, padding: 1)),
            ("bn3", nn.BatchNorm2d(5)), ("relu3", nn.ReLU()), ("pool", nn.AdaptiveAvgPool2d(2)), ("flatten", nn.Flatten()),
            ("fc", nn.Linear(20, 4)));
        model.to(ScalarType.Float64);
        RandomizeLayers(model, 5);
        // No zero scales here: with epsilon 0 a channel switched off by a zero scale would divide 0 by 0. The ReLUs
        // are not in place: as in the reference, a ThreshReLU replacing an in-place ReLU passes relevance by its own
        // gradient, which drops the relevance of positions where it output the threshold (see ThreshReLU).
        RandomizeBatchNorms(model, 9, zeroSomeScales: false);
        model.eval();
        foreach (string name in new[] { "densenet-like", "right" })
        {
            var canonizers = name == "right"
                ? new ICanonizer[] { new SequentialMergeBatchNorm(), new MergeBatchNormToRight() }
                : new ICanonizer[] { new SequentialMergeBatchNorm(), new ThreshReLUMergeBatchNorm() };
            // LRP-0 with every bias (including merged bias maps) excluded from the rules conserves relevance exactly.
            var zeroBias = new[] { "bias" };
            var composite = new LayerMapComposite(new (ModuleMatcher, Rule)[]
            {
                (LayerTypes.Activation, new Pass()),
                (LayerTypes.BatchNorm, new Pass()),
                // An average of four zeros is 0 and receives no relevance; the tiny stabilizer only turns 0/0 into 0.
                (LayerTypes.AvgPool, new Norm(new Stabilizer(1e-30))),
                (LayerTypes.Linear, new Epsilon(0.0, zeroBias)),
            }, canonizers);
            Tensor input = Input(6, 2, 3, 8, 8);
            using AttributionResult result = new Gradient(model, composite, AttributionTarget.ClassScore(1)).Attribute(input);
            double total = result.Relevance.sum().item<double>();
            double target = result.Output[.., 1].sum().item<double>();
            Assert.True(Math.Abs(total - target) <= 1e-8 * Math.Abs(target), $"{name}: input relevance {total}, output relevance {target}");
        }
    }

    [Fact]
    public void AThreshReLUReplacingAnInPlaceReLUDropsTheRelevanceOfThresholdPositions()
    {
        // Same weights, ReLU in place or not: Pass keeps the relevance arriving at threshold positions for the
        // ordinary ReLU; the in-place one passes it by the ThreshReLU's gradient, as the reference does.
        Tensor input = Input(8, 2, 3, 6, 6);
        Tensor Relevance(bool inplace, out Tensor mask)
        {
            var model = nn.Sequential(("bn", nn.BatchNorm2d(3)), ("relu", nn.ReLU(inplace)), ("conv", nn.Conv2d(3, 4, 3, padding: 1)));
            model.to(ScalarType.Float64);
            RandomizeLayers(model, 21);
            RandomizeBatchNorms(model, 22, zeroSomeScales: false);
            model.eval();
            var bn = (BatchNorm2d)model.children().First();
            using (no_grad())
            {
                mask = bn.call(input).gt(Scalars.Of(0.0)).to(ScalarType.Float64);
            }
            var composite = new LayerMapComposite(new (ModuleMatcher, Rule)[]
            {
                (LayerTypes.Activation, new Pass()), (LayerTypes.BatchNorm, new Pass()), (LayerTypes.Linear, new Epsilon()),
            }, new ICanonizer[] { new ThreshReLUMergeBatchNorm() });
            using AttributionResult result = new Gradient(model, composite, AttributionTarget.Class(2)).Attribute(input);
            return result.Relevance.clone();
        }

        Tensor passed = Relevance(inplace: false, out Tensor mask);
        Tensor masked = Relevance(inplace: true, out _);
        Assert.True(MaxDiff(masked, passed * mask) < 1e-12);
        Assert.True((passed * ones_like(mask).sub(mask)).abs().sum().item<double>() > 1e-6, "threshold positions carried no relevance");
    }
}
