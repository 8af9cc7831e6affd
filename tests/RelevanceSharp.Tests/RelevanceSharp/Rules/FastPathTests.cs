using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Rules;

/// <summary>
/// The term-based fast path against the general path that recomputes every term (itself checked against hand
/// formulas elsewhere), for inputs where each shortcut applies and where it does not, and with counts showing which
/// shortcut ran.
/// </summary>
public class FastPathTests
{
    /// <summary>
    /// Every variant of the built-in rules made of terms whose fast paths differ: the forward pass reused (Epsilon,
    /// ZBox's first term, Norm), with the bias zeroed, the one-call ZPlus and Gamma (and their fallbacks: a clipping
    /// stabilizer, a zeroed bias, a negative gamma), terms on a zero input skipped, terms sharing an input stacked
    /// (AlphaBeta, Gamma's fallback), a coefficient of zero (AlphaBeta with beta 0, Gamma's sign term), terms fed ones.
    /// </summary>
    private static readonly string[] RuleNames =
    [
        "epsilon", "epsilon_nobias", "zplus", "zplus_nobias", "zplus_clip", "alphabeta", "alphabeta_1_0", "alphabeta_nobias",
        "gamma", "gamma_nobias", "gamma_clip", "gamma_negative", "zbox", "flat", "wsquare", "norm",
    ];

    /// <summary>
    /// Dense layers and convolutions: padded, strided and dilated, grouped (with and without stride), one-dimensional,
    /// transposed, and one whose bias is a map over output positions (a batch norm merged into it from the left).
    /// </summary>
    private static readonly string[] LayerNames =
        ["linear", "conv", "conv_strided", "conv_grouped", "conv_grouped_strided", "conv1d", "conv_transpose", "conv_merged_bn"];

    private static readonly string[] Signs = ["mixed", "nonnegative", "nonpositive", "channels"];

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string rule in RuleNames)
        {
            foreach (string layer in LayerNames)
            {
                foreach (string sign in Signs)
                {
                    data.Add(rule, layer, sign);
                }
            }
        }
        return data;
    }

    private static BasicRule Rule(string name) => name switch
    {
        "epsilon" => new Epsilon(),
        "epsilon_nobias" => new Epsilon(1e-6, new[] { "bias" }),
        "zplus" => new ZPlus(),
        "zplus_nobias" => new ZPlus(zeroParameters: new[] { "bias" }),
        "zplus_clip" => new ZPlus(new Stabilizer(1e-6, clip: true)),
        "alphabeta" => new AlphaBeta(),
        "alphabeta_1_0" => new AlphaBeta(1.0, 0.0),
        "alphabeta_nobias" => new AlphaBeta(zeroParameters: new[] { "bias" }),
        "gamma" => new Gamma(),
        "gamma_nobias" => new Gamma(zeroParameters: new[] { "bias" }),
        "gamma_clip" => new Gamma(stabilizer: new Stabilizer(0.5, clip: true)),
        "gamma_negative" => new Gamma(-0.1),
        "zbox" => new ZBox(-2.0, 2.5),
        "flat" => new Flat(),
        "wsquare" => new WSquare(),
        "norm" => new Norm(),
        _ => throw new ArgumentException(name),
    };

    private static (nn.Module<Tensor, Tensor> Layer, long[] Shape) Layer(string name)
    {
        manual_seed(3);
        (nn.Module<Tensor, Tensor> layer, long[] shape) = name switch
        {
            "linear" => ((nn.Module<Tensor, Tensor>)nn.Linear(5, 4), new long[] { 3, 5 }),
            "conv" => (nn.Conv2d(3, 4, 3, padding: 1), new long[] { 2, 3, 5, 5 }),
            "conv_strided" => (nn.Conv2d(3, 4, 3, stride: 2, padding: 2, dilation: 2), new long[] { 2, 3, 7, 7 }),
            "conv_grouped" => (nn.Conv2d(4, 6, 3, padding: 1, groups: 2), new long[] { 2, 4, 5, 5 }),
            "conv_grouped_strided" => (nn.Conv2d(4, 6, 3, stride: 2, padding: 1, groups: 2), new long[] { 2, 4, 6, 6 }),
            "conv1d" => (nn.Conv1d(3, 4, 3, stride: 2, padding: 1), new long[] { 2, 3, 9 }),
            "conv_transpose" => (nn.ConvTranspose2d(3, 4, 3, stride: 2), new long[] { 2, 3, 4, 4 }),
            "conv_merged_bn" => (MergedBatchNormConv(), new long[] { 2, 3, 6, 6 }),
            _ => throw new ArgumentException(name),
        };
        layer.to(ScalarType.Float64);
        return (layer, shape);
    }

    /// <summary>
    /// A batch norm with statistics far from identity (some negative scales) before a padded, strided convolution.
    /// <see cref="MergeBatchNormToRight"/> folds it into the convolution, whose bias becomes a map over output
    /// positions (different at the zero-padded border), which every rule treats as the bias.
    /// </summary>
    private static nn.Module<Tensor, Tensor> MergedBatchNormConv()
    {
        var norm = nn.BatchNorm2d(3);
        using (no_grad())
        {
            norm.weight!.copy_(tensor(new[] { 1.5, -0.7, 0.4 }));
            norm.bias!.copy_(tensor(new[] { 0.3, -0.2, 0.5 }));
            norm.running_mean!.copy_(tensor(new[] { 0.2, -0.4, 0.1 }));
            norm.running_var!.copy_(tensor(new[] { 0.5, 2.0, 1.3 }));
        }
        var model = nn.Sequential(("norm", norm), ("conv", nn.Conv2d(3, 4, 3, stride: 2, padding: 1)));
        model.eval();
        return model;
    }

    private static ICanonizer[] Canonizers(string layerName) => layerName == "conv_merged_bn" ? [new MergeBatchNormToRight()] : [];

    private static Tensor Input(long[] shape, string sign)
    {
        manual_seed(5);
        Tensor x = randn(shape, ScalarType.Float64);
        return sign switch
        {
            "nonnegative" => x.relu(),
            "nonpositive" => -x.relu(),
            // Channel 0 non-negative, channel 1 non-positive, the others mixed (channels: dimension 1 of every
            // input here), as after a ThreshReLU whose thresholds differ in sign.
            "channels" => cat(new[] { x.narrow(1, 0, 1).relu(), -x.narrow(1, 1, 1).relu(), x.narrow(1, 2, shape[1] - 2) }, 1),
            _ => x,
        };
    }

    private static Tensor Relevance(nn.Module<Tensor, Tensor> layer, Rule rule, Tensor input, EngineCounters? counters = null) =>
        Relevance(layer, rule, input, [], generalPath: false, counters);

    private static Tensor Relevance(nn.Module<Tensor, Tensor> layer, Rule rule, Tensor input, ICanonizer[] canonizers, bool generalPath,
        EngineCounters? counters = null)
    {
        Composite composite = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (LayerTypes.Linear, rule) }, canonizers);
        if (generalPath)
        {
            composite = new GeneralPathComposite(composite);
        }
        composite.Counters = counters;
        using AttributionResult result = new Gradient(layer, composite, AttributionTarget.Output).Attribute(input);
        return result.Relevance.clone();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FastPathEqualsRecomputingEveryTerm(string ruleName, string layerName, string sign)
    {
        using var scope = NewDisposeScope();
        var (layer, shape) = Layer(layerName);
        Tensor input = Input(shape, sign);
        BasicRule rule = Rule(ruleName);
        Assert.NotNull(rule.Terms);
        var counters = new EngineCounters();
        // GeneralPathComposite gives the same rule by its modifiers and reducer: no terms, every term recomputed.
        Tensor expected = Relevance(layer, rule, input, Canonizers(layerName), generalPath: true, counters);
        Assert.Equal(0, counters.NaturalTerms + counters.ZeroInputTerms + counters.LayerCalls + counters.Gradients);
        Tensor actual = Relevance(layer, rule, input, Canonizers(layerName), generalPath: false, counters);
        Assert.True(counters.Gradients > 0, "the fast path did not run");
        Assert.Equal(input.shape, actual.shape);
        double scale = Math.Max(1.0, expected.abs().max().item<double>());
        double difference = (actual - expected).abs().max().item<double>();
        Assert.True(difference <= 1e-12 * scale, $"{ruleName} on {layerName} with {sign} input: difference {difference}");
    }

    [Fact]
    public void EveryBuiltInRuleMadeOfTermsHasFastPathCases()
    {
        // A new rule built on BasicRule gets the engine's fast path, so it needs cases above; this fails until it has.
        var covered = RuleNames.Select(name => Rule(name).GetType()).ToHashSet();
        var builtIn = typeof(BasicRule).Assembly.GetExportedTypes()
            .Where(type => !type.IsAbstract && type.IsSubclassOf(typeof(BasicRule)))
            .ToList();
        Assert.Contains(typeof(Gamma), builtIn);
        Assert.Empty(builtIn.Where(type => !covered.Contains(type)).Select(type => type.Name));
    }

    [Theory]
    [InlineData("avgpool")]
    [InlineData("sum")]
    public void NormOnLayersWithoutParametersReusesTheForwardPassAndEqualsTheGeneralPath(string layerName)
    {
        // Norm takes the forward pass's output and graph on average pools and sums (no recomputation at all).
        using var scope = NewDisposeScope();
        (nn.Module<Tensor, Tensor> layer, ModuleMatcher kind) = layerName == "avgpool"
            ? ((nn.Module<Tensor, Tensor>)nn.AvgPool2d(2, stride: 1, padding: 1), LayerTypes.AvgPool)
            : (new RelevanceSharp.Layers.Sum(1), LayerTypes.Sum);
        foreach (string sign in Signs)
        {
            Tensor input = Input([2, 3, 4, 4], sign);
            var counters = new EngineCounters();
            Tensor Attribute(Composite composite)
            {
                composite.Counters = counters;
                using AttributionResult result = new Gradient(layer, composite, AttributionTarget.Output).Attribute(input);
                return result.Relevance.clone();
            }
            var fast = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (kind, new Norm()) });
            Tensor expected = Attribute(new GeneralPathComposite(fast));
            Tensor actual = Attribute(fast);
            Assert.Equal((1, 0, 1), (counters.NaturalTerms, counters.LayerCalls, counters.Gradients));
            double difference = (actual - expected).abs().max().item<double>();
            Assert.True(difference <= 1e-12 * Math.Max(1.0, expected.abs().max().item<double>()), $"Norm on {layerName} with {sign} input: {difference}");
        }
    }

    [Fact]
    public void CountersTimeTheRuleStepsOfEachRegisteredModuleByName()
    {
        using var scope = NewDisposeScope();
        var model = Engine.TestNets.ConvReLUNet(4);
        var counters = new EngineCounters();
        var composite = new EpsilonPlusFlat() { Counters = counters };
        string[] named;
        using (CompositeRegistration registration = composite.Register(model))
        {
            named = registration.Rules.Select(r => r.Name).ToArray();
        }
        using (AttributionResult result = new Gradient(model, composite, AttributionTarget.Class(0)).Attribute(T(Support.Values(64, 2), 2, 2, 4, 4)))
        {
        }
        // Every timed module is one the composite gave a rule, under its name in the model; the two convolutions and
        // two dense layers are among them.
        Assert.All(counters.RuleMilliseconds.Keys, name => Assert.Contains(name, named));
        Assert.Subset(counters.RuleMilliseconds.Keys.ToHashSet(), new HashSet<string> { "0", "2", "5", "7" });
        Assert.All(counters.RuleMilliseconds.Values, ms => Assert.True(ms > 0.0));
        counters.Reset();
        Assert.Empty(counters.RuleMilliseconds);
    }

    [Fact]
    public void TermsFedTheSameInputEachGetTheirOwnGradient()
    {
        using var scope = NewDisposeScope();
        // Two identical terms, each given half the relevance over the output: together they are plain LRP-0, so the
        // sum of the relevance must equal the explained output (a layer without bias). Were the two terms' inputs one
        // graph node, each gradient would hold both halves and the relevance would double.
        var (layer, shape) = Layer("conv");
        using (no_grad())
        {
            ((TorchSharp.Modules.Conv2d)layer).bias!.zero_();
        }
        Func<Tensor, Tensor> same = BasicRule.Same;
        var halves = new BasicRule(new[] { same, same }, new[] { ParameterModifier.Unmodified(), ParameterModifier.Unmodified() },
            new[] { same, same }, (r, outputs) => new[] { r / (outputs[0].mul(Scalars.Of(2.0))), r / (outputs[1].mul(Scalars.Of(2.0))) },
            (inputs, gradients) => (inputs[0] * gradients[0]).add(inputs[1] * gradients[1], Scalars.One));
        Tensor input = Input(shape, "mixed");
        Tensor relevance = Relevance(layer, halves, input);
        Tensor output = layer.call(input);
        double expected = output.sum().item<double>();
        Assert.True(Math.Abs(relevance.sum().item<double>() - expected) < 1e-9 * Math.Max(1.0, Math.Abs(expected)),
            $"relevance {relevance.sum().item<double>()}, output {expected}");
    }

    private static EngineCounters Count(string ruleName, string layerName, string sign)
    {
        var (layer, shape) = Layer(layerName);
        Tensor input = Input(shape, sign);
        var counters = new EngineCounters();
        Relevance(layer, Rule(ruleName), input, counters);
        return counters;
    }

    [Fact]
    public void EpsilonReusesTheForwardPassInsteadOfRecomputing()
    {
        var stats = Count("epsilon", "conv", "mixed");
        Assert.Equal((1, 0, 0, 1), (stats.NaturalTerms, stats.ZeroInputTerms, stats.LayerCalls, stats.Gradients));
        // Flat feeds ones with unit weights: the forward pass cannot serve it.
        stats = Count("flat", "conv", "mixed");
        Assert.Equal((0, 1), (stats.NaturalTerms, stats.LayerCalls));
    }

    [Fact]
    public void TermsWithAZeroInputCostNothing()
    {
        // After a ReLU the negative part vanishes: ZPlus needs one layer call on the input itself, not a clamped copy.
        var stats = Count("zplus", "conv", "nonnegative");
        Assert.Equal((1, 1, 1, 1, 0), (stats.ZeroInputTerms, stats.WholeInputs, stats.LayerCalls, stats.Gradients, stats.SignSplitCalls));
        // Only the negative part remains for a non-positive input.
        stats = Count("zplus", "linear", "nonpositive");
        Assert.Equal((1, 1, 1, 0), (stats.ZeroInputTerms, stats.WholeInputs, stats.LayerCalls, stats.SignSplitCalls));
        // With both signs both parts are needed.
        stats = Count("zplus", "conv", "mixed");
        Assert.Equal((0, 0), (stats.ZeroInputTerms, stats.WholeInputs));
    }

    [Fact]
    public void ZPlusRunsBothPartsOfTheInputAsOneCallWithItsStabilizerInTheBias()
    {
        // Its denominator W+ x+ + W- x- + b+ cannot be negative: the plain stabilizer adds epsilon, inside the call.
        var stats = Count("zplus", "conv", "nonnegative");
        Assert.Equal((1, 1, 1), (stats.ZPlusInOneCall, stats.LayerCalls, stats.Gradients));
        Assert.Equal(1, Count("zplus", "conv_transpose", "nonnegative").ZPlusInOneCall);
        // Both signs: x+ and x- stacked along the channels with W+ and W-, one call and one backward step.
        foreach (string layer in new[] { "linear", "conv", "conv_transpose" })
        {
            stats = Count("zplus", layer, "mixed");
            Assert.Equal((1, 1, 1, 1), (stats.ZPlusInOneCall, stats.LayerCalls, stats.SignSplitCalls, stats.Gradients));
        }
        // Grouped convolutions cannot be sliced by input channel: one call per part, still one backward step.
        stats = Count("zplus", "conv_grouped", "mixed");
        Assert.Equal((1, 2, 0, 1), (stats.ZPlusInOneCall, stats.LayerCalls, stats.SignSplitCalls, stats.Gradients));
        // Not with a stabilizer that depends on the values (clipping): the terms are then computed one by one.
        stats = Count("zplus_clip", "conv", "mixed");
        Assert.Equal((0, 2), (stats.ZPlusInOneCall, stats.LayerCalls));
    }

    [Fact]
    public void OnlyChannelsHoldingNegativeValuesEnterTheNegativePart()
    {
        // Of the three input channels, channel 0 has no negative values: x- takes channels 1 and 2 only.
        var stats = Count("zplus", "conv", "channels");
        Assert.Equal((1, 2, 1), (stats.SignSplitCalls, stats.SplitNegativeChannels, stats.LayerCalls));
        stats = Count("zplus", "conv_transpose", "channels");
        Assert.Equal((1, 2), (stats.SignSplitCalls, stats.SplitNegativeChannels));
        // Every channel of a plain random input has both signs.
        Assert.Equal(3, Count("zplus", "conv", "mixed").SplitNegativeChannels);
    }

    [Fact]
    public void ChannelSignsCountANaNAsBothSigns()
    {
        using var scope = NewDisposeScope();
        Tensor x = tensor(new[] { 1.0, 0.0, -2.0, double.NaN, 0.0, 0.0 }, ScalarType.Float64).reshape(1, 3, 2);
        var signs = ChannelSigns.Of(x, 1);
        Assert.Equal(new long[] { 0, 1 }, signs.Positive);
        Assert.Equal(new long[] { 1 }, signs.Negative);
        signs = ChannelSigns.Of(x.nan_to_num(0.0).relu(), 1);
        Assert.True(signs.NonNegative);
        Assert.Equal(new long[] { 0, 1, 2 }, signs.Positive);
    }

    [Fact]
    public void GammaNeedsOneLayerCallBesidesTheForwardPass()
    {
        // After a ReLU both of Gamma's weight sets follow from the forward output and one call with W+.
        var stats = Count("gamma", "conv", "nonnegative");
        Assert.Equal((1, 1, 2, 0), (stats.GammaFromOutput, stats.LayerCalls, stats.Gradients, stats.StackedCalls));
        stats = Count("gamma", "conv_transpose", "nonnegative");
        Assert.Equal((1, 1), (stats.GammaFromOutput, stats.LayerCalls));
        // With inputs of both signs the one call takes |x| with |W| (W+ x+ + W- x- = (W x + |W| |x|) / 2), not a
        // stacked x+ and x-, whatever share of the channels holds negative values.
        stats = Count("gamma", "conv", "mixed");
        Assert.Equal((1, 1, 1, 0, 2), (stats.GammaFromOutput, stats.LayerCalls, stats.MagnitudeCalls, stats.SignSplitCalls, stats.Gradients));
        stats = Count("gamma", "conv_transpose", "channels");
        Assert.Equal((1, 1, 0, 0), (stats.MagnitudeCalls, stats.LayerCalls, stats.SignSplitCalls, stats.SplitNegativeChannels));
        stats = Count("gamma", "linear", "nonpositive");
        Assert.Equal((1, 1, 0), (stats.GammaFromOutput, stats.LayerCalls, stats.SignSplitCalls));
        // Not with the bias zeroed (the denominators' signs are then unknown), a clipping stabilizer or a negative
        // gamma (which would let P change sign).
        Assert.Equal(0, Count("gamma_nobias", "conv", "nonnegative").GammaFromOutput);
        Assert.Equal(0, Count("gamma_clip", "conv", "nonnegative").GammaFromOutput);
        Assert.Equal(0, Count("gamma_negative", "conv", "mixed").GammaFromOutput);
    }

    [Fact]
    public void GammaOnInputsOfBothSignsKeepsFloat32Precision()
    {
        // The magnitude form takes P from the forward output (W x = y - b) plus |W| |x|: in float32 it must stay as
        // close to the term-by-term computation as rounding allows, on a layer-norm-like input into a wide layer.
        using var scope = NewDisposeScope();
        manual_seed(11);
        var layer = nn.Linear(768, 96);
        Tensor input = randn(4, 7, 768);
        var rule = new Gamma(0.05);
        var counters = new EngineCounters();
        Tensor fast = Relevance(layer, rule, input, counters);
        Tensor general = Relevance(layer, rule, input, [], generalPath: true);
        Assert.Equal(1, counters.MagnitudeCalls);
        double error = (fast - general).abs().max().item<float>();
        double scale = general.abs().max().item<float>();
        Assert.True(error <= 1e-5 * scale, $"largest difference {error} against largest value {scale}");
    }

    [Fact]
    public void GammaFromTheOutputGivesNothingWhereTheOutputIsZero()
    {
        // Output 0 of the first sample cancels exactly (1 * 1 - 1 * 1): Gamma gives it no relevance, although its
        // inputs and weights are not zero; the second sample's output 0 is negative.
        using var scope = NewDisposeScope();
        var layer = nn.Linear(2, 2, hasBias: false);
        layer.to(ScalarType.Float64);
        using (no_grad())
        {
            layer.weight!.copy_(tensor(new[,] { { 1.0, -1.0 }, { 0.5, 0.25 } }, ScalarType.Float64));
        }
        Tensor input = tensor(new[,] { { 1.0, 1.0 }, { 2.0, 3.0 } }, ScalarType.Float64);
        var fast = new Gamma();
        var general = new BasicRule(fast.InputModifiers, fast.ParameterModifiers, fast.OutputModifiers, fast.GradientMapper, fast.Reducer);
        // A one-hot target on output 0, so that the gradient arriving where the output is zero is not zero itself.
        var counters = new EngineCounters();
        Tensor Attribute(Rule rule)
        {
            var composite = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (LayerTypes.Linear, rule) }) { Counters = counters };
            using AttributionResult result = new Gradient(layer, composite, AttributionTarget.Class(0)).Attribute(input);
            return result.Relevance.clone();
        }
        Tensor actual = Attribute(fast);
        Assert.Equal(1, counters.GammaFromOutput);
        Tensor expected = Attribute(general);
        Assert.True(actual[0].eq(Scalars.Of(0.0)).all().item<bool>(), $"relevance {actual[0].str()} where the output is zero");
        Assert.True(actual[1].abs().sum().item<double>() > 0.1);
        Assert.True((actual - expected).abs().max().item<double>() <= 1e-12, $"{actual.str()} vs {expected.str()}");
    }

    [Fact]
    public void TermsSharingAnInputRunAsOneStackedCall()
    {
        // AlphaBeta after a ReLU: its two terms on x+ in one call, the two on x- skipped.
        var stats = Count("alphabeta", "conv", "nonnegative");
        Assert.Equal((0, 2, 1, 1), (stats.NaturalTerms, stats.ZeroInputTerms, stats.LayerCalls, stats.StackedCalls));
        Assert.Equal(1, stats.Gradients);
        // The sign term of Gamma has coefficient zero: its gradient is never taken, although its output is used.
        stats = Count("gamma_clip", "conv", "mixed");
        Assert.Equal((2, 2, 2), (stats.LayerCalls, stats.StackedCalls, stats.Gradients));
        // Grouped convolutions are not stacked: one call per term.
        stats = Count("alphabeta", "conv_grouped", "nonnegative");
        Assert.Equal((2, 0), (stats.LayerCalls, stats.StackedCalls));
    }
}
