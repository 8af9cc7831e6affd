using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using RelevanceSharp.Tests.Engine;
using RelevanceSharp.Vision.Models;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Core;

public class LayerTapTests
{
    // Dense net: 0 Linear(4->5), 1 ReLU, 2 Linear(5->3), 3 ReLU, 4 Linear(3->2); biases zero so Epsilon conserves.
    private static Sequential Dense(ulong seed) => TestNets.Fill(nn.Sequential(
        ("0", nn.Linear(4, 5, dtype: ScalarType.Float64)), ("1", nn.ReLU()),
        ("2", nn.Linear(5, 3, dtype: ScalarType.Float64)), ("3", nn.ReLU()),
        ("4", nn.Linear(3, 2, dtype: ScalarType.Float64))), seed, zeroBias: true);

    private static Composite EpsilonOnDense(double epsilon = 1e-9) =>
        new LayerMapComposite([(LayerTypes.Dense, (Rule)new Epsilon(epsilon))]);

    [Fact]
    public void RelevanceAtALayerIsWhatTheNetworkAboveItGivesItsInput()
    {
        // LRP is layer by layer: the relevance reaching the output of layer "2" is the attribution, under the same rules,
        // of the part above it ("3", "4") to its input, which is that layer's output.
        using var scope = NewDisposeScope();
        Sequential model = Dense(3);
        Tensor x = T(Values(8, 4), 2, 4);
        using AttributionResult result = new Gradient(model, EpsilonOnDense()).Attribute(x, AttributionTarget.ClassScore(1), ["2", "0"]);

        Tensor below;
        using (no_grad())
        {
            below = model[2].call(model[1].call(model[0].call(x)));
        }
        var above = nn.Sequential(("3", (nn.Module<Tensor, Tensor>)model[3]), ("4", (nn.Module<Tensor, Tensor>)model[4]));
        using AttributionResult reference = new Gradient(above, EpsilonOnDense()).Attribute(below, AttributionTarget.ClassScore(1));
        AssertClose(D(reference.Relevance), result.Layers["2"], 1e-12, "relevance at layer 2");
        Assert.Equal(["2", "0"], result.Layers.Keys);
        Assert.Equal(new long[] { 2, 5 }, result.Layers["0"].shape);
    }

    [Fact]
    public void RelevanceIsConservedAtEveryTappedLayer()
    {
        // Epsilon with a negligible epsilon and no biases passes every layer's relevance on whole: each tapped layer's
        // relevance sums to the target score, as the input's does.
        using var scope = NewDisposeScope();
        Sequential model = Dense(5);
        Tensor x = T(Values(8, 6), 2, 4);
        using AttributionResult result = new Gradient(model, EpsilonOnDense()).Attribute(x, AttributionTarget.ClassScore(0), ["0", "1", "2", "3"]);
        double[] scores = D(result.Output.select(1, 0));
        foreach (var (name, relevance) in result.Layers.Append(new("input", result.Relevance)))
        {
            double[] sums = D(relevance.sum(1));
            AssertClose(scores, sums, 1e-7, $"sum of the relevance at {name}");
        }
    }

    [Fact]
    public void WithoutACompositeALayerGetsTheGradient()
    {
        using var scope = NewDisposeScope();
        Sequential model = Dense(7);
        Tensor x = T(Values(8, 8), 2, 4);
        using AttributionResult result = new Gradient(model).Attribute(x, AttributionTarget.Class(1), ["2"]);
        Tensor hidden;
        using (enable_grad())
        {
            hidden = model[2].call(model[1].call(model[0].call(x))).detach().requires_grad_(true);
            Tensor output = model[4].call(model[3].call(hidden));
            Tensor seed = zeros_like(output);
            seed[TensorIndex.Colon, 1] = 1.0;
            AssertClose(D(autograd.grad([output], [hidden], [seed])[0]), result.Layers["2"], 1e-14, "gradient at layer 2");
        }
    }

    /// <summary>Passes the gradient on unchanged and counts its backward steps.</summary>
    private sealed class CountingPass : Rule
    {
        public int Steps;

        public override bool ReadsOutput => false;

        public override string ToString() => "counting pass";

        public override Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput)
        {
            Interlocked.Increment(ref Steps);
            return gradInput;
        }
    }

    [Fact]
    public void OneForwardAndOneBackwardPassGiveTheInputAndEveryLayer()
    {
        using var scope = NewDisposeScope();
        Sequential model = Dense(9);
        var rule = new CountingPass();
        var composite = new LayerMapComposite([(LayerTypes.Dense, (Rule)rule)]);
        int forwards = 0;
        var counter = model.register_forward_hook((_, _, output) =>
        {
            forwards++;
            return output;
        });
        using AttributionResult result = new Gradient(model, composite).Attribute(T(Values(12, 10), 3, 4), AttributionTarget.Class(0), ["0", "2", "3"]);
        Assert.Equal(1, forwards);
        // Three dense layers, each stepped through once, however many layers were tapped.
        Assert.Equal(3, rule.Steps);
        Assert.Equal(3, result.Layers.Count);
        counter.remove();
    }

    [Fact]
    public void AnUnknownLayerIsRefusedWithTheNearestNames()
    {
        using var scope = NewDisposeScope();
        DenseNet model = DemoModel.Create();
        var ex = Assert.Throws<ArgumentException>(() => new Gradient(model).Attribute(zeros(1, 1, 28, 28), AttributionTarget.Class(0), ["features.denseblok3"]));
        Assert.StartsWith("The model has no layer 'features.denseblok3'; nearest: features.denseblock3, ", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void ALayerOfTheDemoModelIsTapped()
    {
        using var scope = NewDisposeScope();
        DenseNet model = DemoModel.Create();
        model.eval();
        using AttributionResult result = new Gradient(model).Attribute(zeros(2, 1, 28, 28), AttributionTarget.Class(3), ["features.denseblock3", "features.transition1.conv"]);
        Assert.Equal(new long[] { 2, 67, 7, 7 }, result.Layers["features.denseblock3"].shape);
        Assert.Equal(new long[] { 2, 26, 28, 28 }, result.Layers["features.transition1.conv"].shape);
    }

    [Fact]
    public void AnOutputOverwrittenInPlaceIsRefused()
    {
        using var scope = NewDisposeScope();
        var model = TestNets.Fill(nn.Sequential(("0", nn.Linear(3, 3, dtype: ScalarType.Float64)), ("1", nn.ReLU(inplace: true)),
            ("2", nn.Linear(3, 2, dtype: ScalarType.Float64))), 11);
        Tensor x = T([1.0, -2.0, 0.5, -1.0, 0.3, 2.0], 2, 3);
        var ex = Assert.Throws<InvalidOperationException>(() => new Gradient(model).Attribute(x, AttributionTarget.Class(0), ["0"]));
        Assert.Contains("overwritten in place", ex.Message);
        // The ReLU's own output is fine, and under a composite the rule works on a copy, so layer "0" keeps its values.
        using AttributionResult after = new Gradient(model).Attribute(x, AttributionTarget.Class(0), ["1"]);
        using AttributionResult ruled = new Gradient(model, new LayerMapComposite([(LayerTypes.ReLU, (Rule)new Pass())])).Attribute(x, AttributionTarget.Class(0), ["0"]);
        Assert.Equal(new long[] { 2, 3 }, ruled.Layers["0"].shape);
    }

    [Fact]
    public void AModuleThatRunsTwiceIsRefused()
    {
        using var scope = NewDisposeScope();
        var relu = nn.ReLU();
        var model = TestNets.Fill(nn.Sequential(("0", nn.Linear(3, 3, dtype: ScalarType.Float64)), ("1", relu),
            ("2", nn.Linear(3, 3, dtype: ScalarType.Float64)), ("3", relu)), 13);
        var ex = Assert.Throws<InvalidOperationException>(() =>
            new Gradient(model).Attribute(T(Values(3, 14), 1, 3), AttributionTarget.Class(0), ["1"]));
        Assert.Contains("ran 2 times", ex.Message);
    }

    [Fact]
    public void MethodsWithoutLayerResultsSaySo()
    {
        using var scope = NewDisposeScope();
        Sequential model = Dense(15);
        var ex = Assert.Throws<NotSupportedException>(() =>
            new IntegratedGradients(model, iterations: 2).Attribute(T(Values(4, 16), 1, 4), AttributionTarget.Class(0), ["2"]));
        Assert.Contains("IntegratedGradients gives no result at layers", ex.Message);
        Assert.Equal(0, ModuleHooksCount(model));
    }

    // No interceptor is left on any module once a call ends.
    private static int ModuleHooksCount(nn.Module model) => model.NamedModulesWithRoot().Sum(m => ModuleHooks.Count(m.Module));
}
