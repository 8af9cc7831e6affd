using RelevanceSharp.Attribution;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Tests.Engine;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>The cascading parameter randomization check.</summary>
public class RandomizationTests
{
    private static readonly long[] Targets = { 0, 2, 1 };

    /// <summary>An "attribution" that returns the input itself and so ignores the model entirely.</summary>
    private sealed class InputItself(nn.Module<Tensor, Tensor> model) : Attributor(model)
    {
        protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target) =>
            (Model.call(input), input.clone());
    }

    [Fact]
    public void LayersRunFromTheOutputTowardTheInput()
    {
        Sequential model = TestNets.ConvReLUNet(1);
        Assert.Equal(new[] { "7", "5", "2", "0" }, ParameterRandomization.Layers(model).Select(l => l.Name));
        Sequential withNorm = TestNets.ConvBatchNormNet(2);
        Assert.Equal(new[] { "7", "3", "0" }, ParameterRandomization.Layers(withNorm).Select(l => l.Name));
    }

    [Fact]
    public void AnAttributionThatIgnoresTheModelStaysPerfectlyCorrelated()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(3);
        model.eval();
        RandomizationResult result = ParameterRandomization.Run(new InputItself(model), TestNets.Input(4, batch: 3), Targets);
        Assert.Equal(4, result.Steps.Count);
        Assert.All(result.Steps, step => Assert.All(step.Correlation, rho => Assert.Equal(1.0, rho, 12)));
        Assert.Equal(1.0, result.Final, 12);
        Assert.Equal(1.0, result.MeanOverSteps, 12);
    }

    [Fact]
    public void TheGradientOfASmallNetChangesWhenItsWeightsAreRandom()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(5);
        model.eval();
        RandomizationResult result = ParameterRandomization.Run(new Gradient(model), TestNets.Input(6, batch: 3), Targets);
        Assert.Equal(new[] { 1, 2, 3, 4 }, result.Steps.Select(s => s.Step));
        Assert.Equal(new[] { "7", "5", "2", "0" }, result.Steps.Select(s => s.Layer));
        Assert.True(result.Final < 0.9, $"gradient correlation after randomizing every layer: {result.Final}");
        Assert.All(result.Steps, step => Assert.Equal(3, step.Correlation.Count));
    }

    [Fact]
    public void TheModelIsRestoredBitForBit()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvBatchNormNet(7);
        ModelSnapshot before = ModelSnapshot.Take(model);
        Tensor inputs = TestNets.Input(8, batch: 3);
        foreach (string config in new[] { "gradient", "epsilon_plus_flat+sequential_merge_batch_norm", "epsilon_gamma_box(low=-3,high=3)" })
        {
            Attributor attributor = AttributionSpec.Parse(config).CreateAttributor(model);
            RandomizationResult result = ParameterRandomization.Run(attributor, inputs, Targets);
            Assert.Equal(3, result.Steps.Count);
            before.AssertUnchanged(model, $"after randomizing for {config}");
        }
    }

    [Fact]
    public void TheModelIsRestoredWhenAStepFails()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(9);
        ModelSnapshot before = ModelSnapshot.Take(model);
        int calls = 0;
        Tensor Attribute(Tensor x)
        {
            if (++calls == 3)
            {
                throw new InvalidOperationException("attribution failed");
            }
            using var noGrad = no_grad();
            return model.call(x).sum().expand_as(x) * x;
        }
        var ex = Assert.Throws<InvalidOperationException>(() => ParameterRandomization.Run(model, Attribute, TestNets.Input(10)));
        Assert.Equal("attribution failed", ex.Message);
        before.AssertUnchanged(model, "after a failed randomization");
    }

    [Fact]
    public void TheRandomWeightsFollowTheSeed()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(11);
        Tensor inputs = TestNets.Input(12, batch: 3);
        double[] Run(long seed, int? layers = null) => ParameterRandomization.Run(new Gradient(model), inputs, Targets,
            new RandomizationSettings { Seed = seed, MaxLayers = layers }).Steps.SelectMany(s => s.Correlation).ToArray();
        Assert.Equal(Run(1), Run(1));
        Assert.NotEqual(Run(1), Run(2));
        // The first steps do not depend on how many follow.
        Assert.Equal(Run(1).Take(6), Run(1, layers: 2));
    }

    [Fact]
    public void AbsoluteRelevanceIsComparedWhenAsked()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(13);
        // Relevance whose sign flips after randomization but whose magnitude does not change.
        bool flipped = false;
        Tensor Attribute(Tensor x)
        {
            Tensor relevance = flipped ? -x : x.clone();
            flipped = true;
            return relevance;
        }
        Tensor inputs = TestNets.Input(14);
        Assert.Equal(-1.0, ParameterRandomization.Run(model, Attribute, inputs, new RandomizationSettings { MaxLayers = 1 }).Final, 12);
        flipped = false;
        Assert.Equal(1.0, ParameterRandomization.Run(model, Attribute, inputs, new RandomizationSettings { MaxLayers = 1, Absolute = true }).Final, 12);
    }
}
