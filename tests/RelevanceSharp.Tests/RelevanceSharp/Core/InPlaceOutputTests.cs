using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

/// <summary>
/// The engine copies a module's output only for rules that read it (<see cref="Rule.ReadsOutput"/>). A model that
/// changes a layer's result in place (a ReLU working in place right after a convolution, as in VGG without batch
/// norm) must get the same relevance as with an out-of-place ReLU, for rules that read the output and for rules
/// that are spared the copy.
/// </summary>
public class InPlaceOutputTests
{
    public static TheoryData<string> RuleNames() => new() { "epsilon", "gamma", "zplus", "alphabeta", "flat", "pass_relu" };

    private static Composite Composite(string rule) => rule switch
    {
        "pass_relu" => new LayerMapComposite(new (ModuleMatcher, Rule)[] { (LayerTypes.Activation, new Pass()), (LayerTypes.Linear, new Epsilon()) }),
        _ => new LayerMapComposite(new (ModuleMatcher, Rule)[]
        {
            (LayerTypes.Linear, rule switch
            {
                "epsilon" => new Epsilon(),
                "gamma" => new Gamma(),
                "zplus" => new ZPlus(),
                "alphabeta" => new AlphaBeta(),
                _ => new Flat(),
            }),
        }),
    };

    private static Tensor Relevance(string rule, bool inplace)
    {
        manual_seed(11);
        var model = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding: 1), nn.LeakyReLU(0.1, inplace), nn.Conv2d(4, 3, 3, padding: 1), nn.LeakyReLU(0.1, inplace),
            nn.Flatten(), nn.Linear(3 * 5 * 5, 4));
        model.to(ScalarType.Float64);
        Tensor input = randn(new long[] { 2, 2, 5, 5 }, ScalarType.Float64);
        using AttributionResult result = new Gradient(model, Composite(rule), AttributionTarget.Class(1)).Attribute(input);
        return result.Relevance.clone();
    }

    [Fact]
    public void RulesSayWhetherTheyReadTheOutput()
    {
        Assert.True(new Epsilon().ReadsOutput);
        Assert.True(new Gamma().ReadsOutput);
        Assert.False(new ZPlus().ReadsOutput);
        Assert.False(new Flat().ReadsOutput);
        Assert.False(new Pass().ReadsOutput);
    }

    [Theory]
    [MemberData(nameof(RuleNames))]
    public void InPlaceChangesOfALayerResultDoNotReachTheRule(string rule)
    {
        using var scope = NewDisposeScope();
        Tensor expected = Relevance(rule, inplace: false);
        Tensor actual = Relevance(rule, inplace: true);
        Assert.True(expected.abs().sum().item<double>() > 0);
        Assert.True(actual.allclose(expected, rtol: 1e-12, atol: 1e-14), $"{rule}: in-place activations changed the relevance");
    }
}
