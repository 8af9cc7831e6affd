using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

/// <summary>
/// What the README says about layer norms: ZPlus, Gamma (and Epsilon) accept them, but redistribute almost nothing.
/// A layer norm's output does not change when its input is scaled (up to its eps), so input times the gradient of any
/// weight set applied after the normalization sums to about zero over the inputs, and the bias keeps the relevance.
/// AttnLRP's <see cref="LayerNormRule"/>, which holds the standard deviation constant, passes it on.
/// </summary>
public class LayerNormUnderLrpRulesTests
{
    private static (Tensor RelevanceIn, Tensor RelevanceOut) Attribute(Rule rule)
    {
        manual_seed(11);
        var norm = nn.LayerNorm(8);
        norm.to(ScalarType.Float64);
        using (no_grad())
        {
            // Weights of both signs and a bias that keeps every output away from zero, as in a trained network.
            norm.weight!.copy_(randn(8, ScalarType.Float64));
            norm.bias!.copy_(randn(8, ScalarType.Float64).sign().mul(Scalars.Of(3.0)));
        }
        Tensor input = randn(4, 8, ScalarType.Float64).mul(Scalars.Of(2.0)).add(Scalars.Of(0.5), Scalars.One);
        var composite = new LayerMapComposite([(ModuleMatcher.Of<TorchSharp.Modules.LayerNorm>(), rule)]);
        using AttributionResult result = new Gradient(norm, composite, AttributionTarget.Output).Attribute(input);
        // The Output target seeds each output with itself: the relevance arriving is y.
        return (result.Relevance.clone(), result.Output.clone());
    }

    [Theory]
    [InlineData("zplus")]
    [InlineData("gamma")]
    [InlineData("epsilon")]
    public void TheRelevanceLeavingALayerNormSumsToAboutZero(string ruleName)
    {
        using var scope = NewDisposeScope();
        Rule rule = ruleName switch { "zplus" => new ZPlus(), "gamma" => new Gamma(), _ => new Epsilon() };
        var (relevanceIn, relevanceOut) = Attribute(rule);
        Tensor arriving = relevanceOut.abs().sum(1);
        Tensor leaving = relevanceIn.sum(1).abs();
        // Per sample, the sum leaving is below 1e-4 of what arrives (it is eps/(var + eps) of a weighted sum), while the
        // relevance of single inputs is not small: it is redistributed among the inputs and cancels.
        Assert.True((leaving <= arriving.mul(Scalars.Of(1e-4))).all().item<bool>(), $"{ruleName}: leaving {leaving.str()}, arriving {arriving.str()}");
        Assert.True(relevanceIn.abs().max().item<double>() > 1e-2 * arriving.max().item<double>(), $"{ruleName}: no relevance at all");
    }

    [Fact]
    public void LayerNormRulePassesTheRelevanceOnLessTheBiasShare()
    {
        using var scope = NewDisposeScope();
        var (relevanceIn, relevanceOut) = Attribute(new LayerNormRule());
        // Far from zero: with sigma held constant the weighted, centred input keeps its share of every output.
        Tensor leaving = relevanceIn.sum(1).abs();
        Assert.True((leaving > relevanceOut.abs().sum(1).mul(Scalars.Of(1e-2))).any().item<bool>(), $"leaving {leaving.str()}");
    }
}
