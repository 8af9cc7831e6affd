using RelevanceSharp.Attribution;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Tests.Engine;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>The uniform-noise control: noise in [0, 1) that depends on the image and the seed only.</summary>
public class UniformNoiseAttributionTests
{
    [Fact]
    public void AnImageGetsTheSameNoiseInEveryBatch()
    {
        using var scope = NewDisposeScope();
        var (model, inputs) = (TestNets.ConvReLUNet(71), TestNets.Input(72, batch: 3));
        var noise = new UniformNoiseAttribution(model, seed: 4);
        using AttributionResult all = noise.Attribute(inputs, AttributionTarget.Class(0));
        using AttributionResult last = noise.Attribute(inputs.narrow(0, 2, 1), AttributionTarget.Class(1));
        Assert.Equal(inputs.shape, all.Relevance.shape);
        Assert.True((all.Relevance[2] == last.Relevance[0]).all().item<bool>());
        Assert.False((all.Relevance[0] == all.Relevance[1]).all().item<bool>());
        Assert.True((all.Relevance >= Scalars.Of(0)).all().item<bool>() && (all.Relevance < Scalars.Of(1)).all().item<bool>());
        // The output is the model's.
        using (no_grad())
        {
            AssertClose(D(model.call(inputs)), all.Output, 1e-6, "output");
        }
        using AttributionResult reseeded = new UniformNoiseAttribution(model, seed: 5).Attribute(inputs, AttributionTarget.Class(0));
        Assert.False((all.Relevance == reseeded.Relevance).all().item<bool>());
    }

    [Fact]
    public void TheRandomConfigurationIsTheNoise()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(73);
        AttributionSpec config = AttributionSpec.Parse("random(seed=3)");
        Assert.True(UniformNoiseAttribution.IsControl(config));
        Assert.Null(config.Composite);
        var attributor = Assert.IsType<UniformNoiseAttribution>(config.CreateAttributor(model));
        Assert.Equal(3, attributor.Seed);
        Assert.Equal("random", UniformNoiseAttribution.Control.Name);
        Assert.Contains("canonizers only change LRP",
            Assert.Throws<ArgumentException>(() => AttributionSpec.Parse("random+densenet_seq_thresh")).Message, StringComparison.Ordinal);
    }
}
