using System.Reflection;
using ParameterModifier = RelevanceSharp.Core.ParameterModifier;
using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

/// <summary>
/// A rule of a user's own with a fast path of its own, built from the public hooks docs/ARCHITECTURE.md lists: the
/// engine asks its <see cref="BasicRule.Shortcut"/>, and the result equals the rule's terms computed the general way.
/// </summary>
public class UserShortcutTests
{
    /// <summary>
    /// LRP-z+ on the positive weights for positive inputs and the negative weights for negative ones, with the
    /// stabilizer in the bias of one sign-split layer call, as a user would write it.
    /// </summary>
    private sealed class OwnZPlus : BasicRule
    {
        public OwnZPlus(Stabilizer stabilizer)
            : base(
                [
                    new RuleTerm(TermInput.PositivePart, ParameterModifier.Clamp(min: 0.0)),
                    new RuleTerm(TermInput.NegativePart, ParameterModifier.Clamp(max: 0.0, zeroParameters: ["bias"])),
                ],
                (gradOutput, outputs) =>
                {
                    Tensor shared = gradOutput / stabilizer.Apply(TermOutputs.Sum(outputs[0], outputs[1]));
                    return [shared, shared];
                },
                "OwnZPlus")
        {
            Stabilizer = stabilizer;
        }

        public Stabilizer Stabilizer { get; }

        public int ShortcutsTaken { get; private set; }

        protected override Tensor? Shortcut(RuleCall call, Tensor gradOutput, LayerCall layer)
        {
            if (Stabilizer.ConstantShift is not { } shift || !KnownSign.IsAffine(layer.Module, layer.Parameters))
            {
                return null;
            }
            ShortcutsTaken++;
            Tensor weight = layer.Parameters["weight"]!;
            Tensor bias = KnownSign.ShiftedBias(layer.Bias?.clamp_min(Scalars.Of(0.0)), shift, layer.Output, layer.ChannelDim);
            var split = SignSplit.Run(layer.Module, layer.Input, ChannelSigns.OfLayerInput(layer.Module, layer.Input),
                () => weight.clamp_min(Scalars.Of(0.0)), () => weight.clamp_max(Scalars.Of(0.0)), bias);
            return split.Relevance(gradOutput / split.Output.detach());
        }
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("conv")]
    public void TheEngineTakesAUsersShortcutAndItEqualsTheTerms(string layerName)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        nn.Module<Tensor, Tensor> layer = layerName == "linear" ? nn.Linear(6, 4) : nn.Conv2d(3, 5, 3, stride: 2, padding: 1);
        layer.to(ScalarType.Float64);
        Tensor input = layerName == "linear" ? randn(3, 6, ScalarType.Float64) : randn(2, 3, 7, 7, ScalarType.Float64);
        var rule = new OwnZPlus(new Stabilizer(1e-6));
        Tensor Attribute(Composite composite)
        {
            using AttributionResult result = new Gradient(layer, composite, AttributionTarget.Output).Attribute(input);
            return result.Relevance.clone();
        }
        var composite = new LayerMapComposite([(LayerTypes.Linear, (Rule)rule)]);
        Tensor expected = Attribute(new GeneralPathComposite(composite));
        Assert.Equal(0, rule.ShortcutsTaken);
        Tensor actual = Attribute(composite);
        Assert.Equal(1, rule.ShortcutsTaken);
        double difference = (actual - expected).abs().max().item<double>();
        Assert.True(difference <= 1e-12 * Math.Max(1.0, expected.abs().max().item<double>()), $"difference {difference}");
        // And it is ZPlus: the built-in rule gives the same numbers.
        Tensor builtIn = Attribute(new LayerMapComposite([(LayerTypes.Linear, (Rule)new ZPlus())]));
        Assert.True((builtIn - actual).abs().max().item<double>() <= 1e-12 * Math.Max(1.0, expected.abs().max().item<double>()));
    }

    [Fact]
    public void TheHooksAreOpenToRulesInOtherAssemblies()
    {
        // The test assembly sees the core's internals, so compiling OwnZPlus shows nothing: check the visibility.
        foreach (Type type in new[] { typeof(SignSplit), typeof(KnownSign), typeof(TermOutputs), typeof(ChannelSigns), typeof(LayerCall), typeof(RuleTerm) })
        {
            Assert.True(type.IsPublic, $"{type.Name} is not public");
        }
        MethodInfo shortcut = typeof(BasicRule).GetMethod("Shortcut", BindingFlags.Instance | BindingFlags.NonPublic)!;
        Assert.True(shortcut.IsVirtual && shortcut.IsFamily, "Shortcut is not a protected virtual method, which a subclass in any assembly overrides alike");
        Assert.True(typeof(Stabilizer).GetProperty(nameof(Stabilizer.ConstantShift))!.GetMethod!.IsPublic);
        Assert.True(typeof(SignSplit).GetMethod(nameof(SignSplit.Run))!.IsPublic);
    }
}
