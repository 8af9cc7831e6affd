using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Onnx;
using TorchSharp;
using static RelevanceSharp.Tests.Onnx.GraphMaker;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>
/// What the named composites give the modules an import makes, checked in relevance terms on small graphs with
/// relevances written out by hand: gates are held constant, other products split evenly, sums split in proportion,
/// element-wise arithmetic with constants passes relevance unchanged, means normalize it.
/// </summary>
public sealed class RuleTests
{
    private static OnnxModel Load(GraphMaker g) => OnnxModel.Load(g.Bytes(), "rules.onnx").to(ScalarType.Float64);

    private static Tensor Input(params long[] shape) =>
        tensor(Support.Values((int)shape.Aggregate(1L, (a, b) => a * b), 21).Select(v => v + 0.1).ToArray(), shape, ScalarType.Float64);

    /// <summary>The relevance at the input for a one-hot seed at <paramref name="target"/> of the flat output.</summary>
    private static Tensor Relevance(OnnxModel model, Composite composite, Tensor input, long target)
    {
        var attributor = new Gradient(model, composite, AttributionTarget.Class(target));
        using AttributionResult result = attributor.Attribute(input);
        return result.Relevance.detach().clone();
    }

    [Fact]
    public void ASqueezeAndExcitationGateIsHeldConstant()
    {
        // z = relu(x) * sigmoid(mean over the image of x), flattened: the gate takes no relevance, so the relevance of
        // output k goes to input k alone (through the ReLU, which passes it).
        using var scope = NewDisposeScope();
        var g = new GraphMaker(13);
        g.Input("x", 1, 2, 2, 3);
        string gate = g.Node("Sigmoid", [g.Node("GlobalAveragePool", ["x"])]);
        g.Output(g.Node("Flatten", [g.Node("Mul", [g.Node("Relu", ["x"]), gate])]));
        using OnnxModel model = Load(g);
        Tensor x = Input(1, 2, 2, 3);
        Tensor relevance = Relevance(model, new EpsilonPlus(), x, 7);
        double[] expected = new double[12];
        expected[7] = 1.0;
        // Up to the product rule's stabilizer (1e-9 on an output of about 1); the gate's branch gets nothing at all.
        Support.AssertClose(expected, relevance, 1e-8, "gated relevance");
        Assert.Equal(11, Support.D(relevance).Count(v => v == 0.0));
    }

    [Fact]
    public void SiluWrittenAsAProductGetsWhatTheSiluModuleGets()
    {
        using var scope = NewDisposeScope();
        var g = new GraphMaker(13);
        g.Input("x", 1, 2, 4, 4);
        string weight = g.Floats([3, 2, 3, 3]);
        string conv = g.Node("Conv", ["x", weight, g.Floats([3])], Ints("pads", 1, 1, 1, 1));
        string silu = g.Node("Mul", [conv, g.Node("Sigmoid", [conv])]);
        g.Output(g.Node("Gemm", [g.Node("Flatten", [silu]), g.Floats([5, 48])], Int("transB", 1)));
        using OnnxModel model = Load(g);

        // The same network written with TorchSharp's SiLU module.
        var reference = nn.Sequential(
            ("conv", nn.Conv2d(2, 3, 3, padding: 1, dtype: ScalarType.Float64)), ("silu", nn.SiLU()),
            ("flatten", nn.Flatten()), ("linear", nn.Linear(48, 5, hasBias: false, dtype: ScalarType.Float64)));
        var imported = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
        {
            var convModule = (TorchSharp.Modules.Conv2d)reference[0];
            convModule.weight!.copy_(imported.Single(p => p.Key.EndsWith("weight", StringComparison.Ordinal) && p.Value.dim() == 4).Value);
            convModule.bias!.copy_(imported.Single(p => p.Key.EndsWith("bias", StringComparison.Ordinal)).Value);
            ((TorchSharp.Modules.Linear)reference[3]).weight!.copy_(imported.Single(p => p.Value.dim() == 2).Value);
        }
        Tensor x = Input(1, 2, 4, 4);
        foreach (Func<Composite> composite in new Func<Composite>[] { () => new EpsilonPlusFlat(), () => new EpsilonGammaBox(-3, 3) })
        {
            var gradient = new Gradient(reference, composite(), AttributionTarget.Class(2));
            using AttributionResult expected = gradient.Attribute(x);
            // The product rule divides by the output stabilized by 1e-9 (Stabilizer.Exact), where Pass divides by nothing.
            Support.AssertClose(Support.D(expected.Relevance), Relevance(model, composite(), x, 2), 1e-7, "relevance");
        }
    }

    [Fact]
    public void AnUngatedProductSplitsEvenly()
    {
        // z = relu(x) * (x W^T): no factor is a gate, so each gets half of the relevance (Uniform). The ReLU passes its
        // half to x_k; the dense layer (Epsilon) spreads the other half over x in proportion to x_j W_kj.
        using var scope = NewDisposeScope();
        double[] w = Support.Values(36, 8);
        var g = new GraphMaker(13);
        g.Input("x", 1, 6);
        g.Output(g.Node("Mul", [g.Node("Relu", ["x"]), g.Node("Gemm", ["x", g.Floats([6, 6], w)], Int("transB", 1))]));
        using OnnxModel model = Load(g);
        double[] values = [0.5, 1.5, 0.25, 2.0, 1.0, 0.75];
        Tensor x = tensor(values, [1L, 6L], ScalarType.Float64);
        // The weights as the model holds them (float32 in the file).
        double[] weight = Support.D(model.named_parameters().Single().parameter);
        const int k = 3;
        double zk = Enumerable.Range(0, 6).Sum(j => values[j] * weight[k * 6 + j]);
        var expected = new double[6];
        for (int j = 0; j < 6; j++)
        {
            expected[j] = 0.5 * values[j] * weight[k * 6 + j] / (zk + (zk >= 0 ? 1e-15 : -1e-15));
        }
        expected[k] += 0.5;
        var composite = new EpsilonPlus(epsilon: new RelevanceSharp.Core.Stabilizer(1e-15), stabilizer: new RelevanceSharp.Core.Stabilizer(1e-15));
        Support.AssertClose(expected, Relevance(model, composite, x, k), 1e-9, "relevance");
    }

    [Fact]
    public void ArithmeticWithConstantsPassesRelevanceAndSumsSplitIt()
    {
        // (x - mean) / std, then a sum with relu(x): the normalization passes relevance element for element (Pass), and
        // the sum splits it in proportion to its summands (Norm).
        using var scope = NewDisposeScope();
        var g = new GraphMaker(13);
        g.Input("x", 1, 4);
        string normalized = g.Node("Div", [g.Node("Sub", ["x", g.Floats([4], [0.5, -0.5, 0.25, 1.0])]), g.Floats([4], [2.0, 0.5, 4.0, 1.0])]);
        g.Output(g.Node("Add", [normalized, g.Node("Relu", ["x"])]));
        using OnnxModel model = Load(g);
        Tensor x = tensor(new[] { 1.0, 2.0, 3.0, 4.0 }, [1L, 4L], ScalarType.Float64);
        Tensor relevance = Relevance(model, new EpsilonPlus(stabilizer: new RelevanceSharp.Core.Stabilizer(1e-15)), x, 2);
        // At position 2: normalized = (3 - 0.25) / 4 = 0.6875, relu = 3; both shares reach x[2].
        Support.AssertClose([0, 0, 1.0, 0], relevance, 1e-9, "relevance");
        Assert.Equal(
            ["Pass", "Pass", "Pass", "Norm"],
            RulesOf(model, new EpsilonPlus()).Where(r => r.Name != "").Select(r => r.Rule).ToArray());
    }

    [Fact]
    public void TheRulesOfAnEfficientNetStyleExport()
    {
        using var scope = NewDisposeScope();
        using OnnxModel model = OnnxModel.Load(OnnxFiles.PathOf("efficientnet_style_opset17"));
        var rules = RulesOf(model, new EpsilonPlusFlat()).ToDictionary(r => r.Name, r => r.Rule);
        var modules = model.named_children().ToDictionary(c => c.name, c => c.module);
        foreach (var (name, module) in modules)
        {
            string? expected = module switch
            {
                TorchSharp.Modules.Conv2d when name == modules.First(m => m.Value is TorchSharp.Modules.Conv2d).Key => "Flat",
                TorchSharp.Modules.Conv2d => "ZPlus",
                TorchSharp.Modules.Linear => "Epsilon",
                TorchSharp.Modules.Sigmoid => "Pass",
                // The SE gates and the SiLUs: the sigmoid's branch is the gate.
                RelevanceSharp.Layers.Multiply { Gate: not null } => "ConstantGate",
                RelevanceSharp.Layers.Add => "Norm",
                TorchSharp.Modules.AdaptiveAvgPool2d => "Norm",
                _ => null,
            };
            if (expected is not null)
            {
                Assert.True(rules.TryGetValue(name, out string? actual) && actual.StartsWith(expected, StringComparison.Ordinal),
                    $"{name} ({module.GetType().Name}) got {actual ?? "no rule"}, expected {expected}.");
            }
        }
        Assert.Equal(0, modules.Values.Count(m => m is RelevanceSharp.Layers.Multiply { Gate: null }));
        Assert.True(modules.Values.Count(m => m is RelevanceSharp.Layers.Multiply) >= 10);
    }

    private static IEnumerable<(string Name, string Rule)> RulesOf(OnnxModel model, Composite composite)
    {
        using var registration = composite.Register(model);
        return registration.Rules.Select(r => (r.Name, r.Rule.ToString()!.Split('(')[0])).ToList();
    }
}
