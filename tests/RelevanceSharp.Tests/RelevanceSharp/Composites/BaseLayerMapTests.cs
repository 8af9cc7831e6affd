using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Layers;
using RelevanceSharp.Rules;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Composites;

/// <summary>
/// The base layer map of the named LRP composites covers the modules that imported graphs and transformers add:
/// element-wise modules pass relevance, parameter-free linear maps normalize it, gated products hold the gate constant,
/// other products split evenly, layer norms take AttnLRP's rule; zennit's entries stay as they were.
/// </summary>
public sealed class BaseLayerMapTests
{
    private sealed class Scale : nn.Module<Tensor, Tensor>, IElementwise
    {
        public Scale() : base(nameof(Scale))
        {
        }

        public override Tensor forward(Tensor input) => input.mul(Scalars.Of(2.0));
    }

    private sealed class Mean : nn.Module<Tensor, Tensor>, ILinearOperation
    {
        public Mean() : base(nameof(Mean))
        {
        }

        public override Tensor forward(Tensor input) => input.mean([-1L], keepdim: true);
    }

    private static string? RuleFor(nn.Module module) =>
        BaseLayerMap.Create().FirstOrDefault(entry => entry.Kind.Matches(module)).Rule?.GetType().Name;

    [Fact]
    public void EachKindGetsItsRule()
    {
        Assert.True(LayerTypes.Activation.Matches(new Scale()));
        Assert.Equal(nameof(Pass), RuleFor(new Scale()));
        Assert.Equal(nameof(Norm), RuleFor(new Mean()));
        Assert.Equal(nameof(ConstantGate), RuleFor(new Multiply(gate: 1)));
        Assert.Equal(nameof(Uniform), RuleFor(new Multiply()));
        Assert.Equal(nameof(Uniform), RuleFor(new RelevanceSharp.Layers.MatMul()));
        Assert.Equal(nameof(ConstantGate), RuleFor(new RelevanceSharp.Layers.MatMul(gate: 0)));
        Assert.Equal(nameof(LayerNormRule), RuleFor(nn.LayerNorm(4)));
        // zennit's own entries.
        Assert.Equal(nameof(Pass), RuleFor(nn.ReLU()));
        Assert.Equal(nameof(Pass), RuleFor(nn.BatchNorm2d(3)));
        Assert.Equal(nameof(Norm), RuleFor(new RelevanceSharp.Layers.Add()));
        Assert.Equal(nameof(Norm), RuleFor(nn.AvgPool2d(2)));
        Assert.Null(RuleFor(nn.Conv2d(1, 1, 1)));
    }

    [Fact]
    public void ExcitationBackpropNormalizesLinearOperations()
    {
        var composite = new ExcitationBackprop();
        Assert.IsType<Norm>(composite.MapModule(new Dictionary<string, object>(), "mean", new Mean()));
    }
}
