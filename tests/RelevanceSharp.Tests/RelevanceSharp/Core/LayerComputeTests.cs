using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

/// <summary>
/// Parameter-modifying rules on every parameterized layer kind TorchSharp ships for vision models: the functional
/// recomputation against the module itself (with its own and with changed parameters), and the rules' fast path
/// against their general path on each kind.
/// </summary>
public class LayerComputeTests
{
    public static TheoryData<string> Kinds() => new()
    {
        "layernorm_last", "layernorm_two", "groupnorm", "instancenorm_affine", "instancenorm_tracked", "batchnorm_eval", "prelu",
    };

    /// <summary>A fresh layer of the kind (float64, fixed values) and its input shape.</summary>
    private static (nn.Module<Tensor, Tensor> Layer, long[] Shape) Layer(string kind)
    {
        manual_seed(7);
        (nn.Module<Tensor, Tensor> layer, long[] shape) = kind switch
        {
            "layernorm_last" => ((nn.Module<Tensor, Tensor>)nn.LayerNorm(new long[] { 4 }), new long[] { 2, 3, 4 }),
            "layernorm_two" => (nn.LayerNorm(new long[] { 3, 4 }), new long[] { 2, 3, 4 }),
            "groupnorm" => (nn.GroupNorm(2, 4), new long[] { 2, 4, 3, 3 }),
            "instancenorm_affine" => (nn.InstanceNorm2d(3, affine: true), new long[] { 2, 3, 3, 3 }),
            "instancenorm_tracked" => (nn.InstanceNorm1d(3, affine: true, track_running_stats: true), new long[] { 2, 3, 5 }),
            "batchnorm_eval" => (nn.BatchNorm2d(3), new long[] { 2, 3, 3, 3 }),
            "prelu" => (nn.PReLU(3, 0.25), new long[] { 2, 3, 4 }),
            _ => throw new ArgumentException(kind),
        };
        layer.to(ScalarType.Float64);
        using (no_grad())
        {
            ulong seed = 1;
            foreach (var (name, parameter) in layer.named_parameters())
            {
                parameter.copy_(T(Values((int)parameter.numel(), seed++).Select(v => name == "weight" ? 1.0 + 0.5 * v : 0.3 * v).ToArray(), parameter.shape));
            }
            foreach (var (name, buffer) in layer.named_buffers())
            {
                if (name == "running_mean")
                {
                    buffer.copy_(T(Values((int)buffer.numel(), 40).Select(v => 0.4 * v).ToArray(), buffer.shape));
                }
                else if (name == "running_var")
                {
                    buffer.copy_(T(Values((int)buffer.numel(), 41).Select(v => 1.0 + 0.5 * v).ToArray(), buffer.shape));
                }
            }
        }
        layer.eval();
        return (layer, shape);
    }

    private static Tensor Input(long[] shape, bool nonNegative)
    {
        Tensor x = T(Values((int)shape.Aggregate(1L, (a, b) => a * b), 9), shape);
        return nonNegative ? x.relu() : x;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void RecomputingWithChangedParametersEqualsTheModuleHoldingThem(string kind)
    {
        using var scope = NewDisposeScope();
        var (layer, shape) = Layer(kind);
        Tensor x = Input(shape, nonNegative: false);
        IReadOnlyDictionary<string, Tensor?> own = LayerParameters.Effective(layer, shape);
        Assert.NotEmpty(own);
        AssertClose(D(layer.call(x)), D(LayerCompute.Forward(layer, x, own)), 1e-12, $"{kind} with its own parameters");

        // Changed parameters: the functional form against a second module of the kind that holds them.
        var changed = own.ToDictionary(p => p.Key, p => p.Value is null ? null : p.Key == "weight" ? p.Value.mul(Scalars.Of(2.0)).sub(Scalars.Of(0.3)) : p.Value.add(Scalars.Of(0.5), Scalars.One));
        var (twin, _) = Layer(kind);
        using (no_grad())
        {
            foreach (var (name, parameter) in twin.named_parameters())
            {
                parameter.copy_(changed[name]!);
            }
        }
        Tensor recomputed = LayerCompute.Forward(layer, x, changed);
        AssertClose(D(twin.call(x)), D(recomputed), 1e-12, $"{kind} with changed parameters");
        Assert.True((recomputed - layer.call(x)).abs().max().item<double>() > 1e-3, "the changed parameters made no difference");
    }

    public static TheoryData<string, string, bool> RuleCases()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (string rule in new[] { "epsilon", "epsilon_nobias", "zplus", "alphabeta", "gamma", "gamma_nobias" })
        {
            foreach (string kind in Kinds())
            {
                data.Add(rule, kind, false);
                data.Add(rule, kind, true);
            }
        }
        return data;
    }

    private static BasicRule Rule(string name) => name switch
    {
        "epsilon" => new Epsilon(),
        "epsilon_nobias" => new Epsilon(1e-6, new[] { "bias" }),
        "zplus" => new ZPlus(),
        "alphabeta" => new AlphaBeta(),
        "gamma" => new RelevanceSharp.Rules.Gamma(),
        "gamma_nobias" => new RelevanceSharp.Rules.Gamma(zeroParameters: new[] { "bias" }),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(RuleCases))]
    public void ParameterRulesRunOnTheLayerAndTheFastPathEqualsRecomputingEveryTerm(string ruleName, string kind, bool nonNegative)
    {
        using var scope = NewDisposeScope();
        var (layer, shape) = Layer(kind);
        Tensor x = Input(shape, nonNegative);
        BasicRule fast = Rule(ruleName);
        var general = new BasicRule(fast.InputModifiers, fast.ParameterModifiers, fast.OutputModifiers, fast.GradientMapper, fast.Reducer);
        double[] Relevance(Rule rule)
        {
            var composite = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (new ModuleMatcher("layer", m => ReferenceEquals(m, layer)), rule) });
            using AttributionResult result = new Gradient(layer, composite, AttributionTarget.Output).Attribute(x);
            return D(result.Relevance);
        }
        double[] expected = Relevance(general);
        double[] actual = Relevance(fast);
        Assert.All(actual, v => Assert.True(double.IsFinite(v)));
        double scale = Math.Max(1.0, expected.Max(Math.Abs));
        AssertClose(expected, actual, 1e-10 * scale, $"{ruleName} on {kind}");
    }

    [Fact]
    public void ZPlusOnALayerNormUsesItsPositiveWeightsOverTheNormalizedDimensions()
    {
        using var scope = NewDisposeScope();
        // LayerNorm over 3 values: y = n(x) * w + b, n(x) = (x - mean) / sqrt(var + eps). ZPlus sums two terms, x+
        // with w+ and b+, and x- with w- and b-. Here x > 0: the first term is n(x) * w+ + b+, the second (the
        // layer norm of zeros, n = 0) is b-, and only the first carries relevance back to x.
        const double eps = 1e-5;
        var layer = nn.LayerNorm(new long[] { 3 }, eps: eps).to(ScalarType.Float64);
        using (no_grad())
        {
            layer.weight.copy_(T(new[] { 2.0, -1.0, 0.5 }));
            layer.bias!.copy_(T(new[] { 0.1, 0.2, -0.3 }));
        }
        double[] x = { 1.0, 2.0, 4.0 };
        double mean = x.Average();
        double sd = Math.Sqrt(x.Select(v => (v - mean) * (v - mean)).Average() + eps);
        double[] n = x.Select(v => (v - mean) / sd).ToArray();
        // Output 0 is explained: its denominator is n_0 * w+_0 + b+_0 + b-_0 = 2 n_0 + 0.1 (moved 1e-6 away from zero), and
        // R_j = x_j * w+_0 * d n_0 / d x_j / denominator, with d n_0 / d x_j = (delta_0j - 1/3 - n_0 n_j / 3) / sd.
        double z0 = 2.0 * n[0] + 0.1;
        double s = 1.0 / (z0 + 1e-6 * Math.Sign(z0));
        double[] expected = Enumerable.Range(0, 3)
            .Select(j => x[j] * 2.0 * (((j == 0 ? 1.0 : 0.0) - 1.0 / 3.0 - n[0] * n[j] / 3.0) / sd) * s).ToArray();
        var composite = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (new ModuleMatcher("norm", m => m is LayerNorm), new ZPlus()) });
        using AttributionResult result = new Gradient(layer, composite, AttributionTarget.Class(0)).Attribute(T(x, 1, 3));
        AssertClose(expected, D(result.Relevance), 1e-9);
    }
}
