using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.IO;
using RelevanceSharp.Layers;
using RelevanceSharp.Rules;
using RelevanceSharp.Vision.Models;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Models;

/// <summary>
/// AttnLRP and CP-LRP on vit_tiny (float64): conservation where CP-LRP promises it, the conservation report locating
/// each absorber, and rules on the attention's own projections.
/// </summary>
public class VitRelevanceTests
{
    private readonly ITestOutputHelper output;

    public VitRelevanceTests(ITestOutputHelper output) => this.output = output;

    private static Tensor Input()
    {
        Dictionary<string, Tensor> expected = SafeTensors.Load(TestPaths.ConformancePath("vit_tiny", "expected.safetensors"));
        foreach (var (name, tensor) in expected.Where(e => e.Key != "input"))
        {
            tensor.Dispose();
        }
        return expected["input"];
    }

    // vit_tiny with every bias at zero, and the class token and position embedding at zero unless kept.
    private static VisionTransformer WithoutAbsorbers(bool keepClassToken = false, bool keepPosEmbedding = false)
    {
        VisionTransformer model = VitTinyTests.LoadVitTiny();
        using var noGrad = no_grad();
        foreach (var (name, tensor) in model.state_dict())
        {
            if (name.EndsWith("bias", StringComparison.Ordinal) || (name == "class_token" && !keepClassToken)
                || (name == "encoder.pos_embedding" && !keepPosEmbedding))
            {
                tensor.zero_();
            }
        }
        return model;
    }

    private (AttributionResult Result, ConservationReport Report) Report(VisionTransformer model, Composite composite)
    {
        var (result, report) = ConservationReport.Attribute(new Gradient(model, composite), Input(), AttributionTarget.ClassScore(3));
        output.WriteLine(report.Format(0, top: 6));
        return (result, report);
    }

    [Fact]
    public void CpLrpConservesTheLogitWithoutBiasesAndEmbeddings()
    {
        using var scope = NewDisposeScope();
        using VisionTransformer model = WithoutAbsorbers();

        var (result, report) = Report(model, new CpLrp());

        for (int s = 0; s < 2; s++)
        {
            double logit = result.Output[s, 3].item<double>();
            double total = result.Relevance[s].sum().item<double>();
            // Only the Epsilon rules' stabilizer (1e-6) takes anything.
            Assert.True(Math.Abs(total - logit) <= 5e-5 * Math.Abs(logit), $"sample {s}: relevance {total}, logit {logit}");
            Assert.Equal(logit, report.Target[s], 12);
        }
    }

    [Fact]
    public void AttnLrpLosesRelevanceInTheSoftmaxAndTheReportSaysSo()
    {
        using var scope = NewDisposeScope();
        using VisionTransformer model = WithoutAbsorbers();

        var (result, report) = Report(model, new AttnLrp());

        for (int s = 0; s < 2; s++)
        {
            double gap = report.Target[s] - report.Input[s];
            double inSoftmax = report.Layers.Where(l => l.Name.EndsWith(".softmax", StringComparison.Ordinal)).Sum(l => l.Absorbed[s]);
            Assert.True(Math.Abs(gap) > 0.05 * Math.Abs(report.Target[s]), $"sample {s}: AttnLRP should not conserve here (gap {gap})");
            Assert.True(Math.Abs(gap - inSoftmax) <= 1e-4 * Math.Abs(report.Target[s]), $"sample {s}: gap {gap}, softmax {inSoftmax}");
            Assert.True(Math.Abs(report.Unaccounted[s]) <= 1e-12);
        }
    }

    [Theory]
    [InlineData(true, false, "class_token_concat", "class_token")]
    [InlineData(false, true, "encoder.add_pos_embedding", "encoder.pos_embedding")]
    public void TheReportLocatesTheClassTokenAndThePositionEmbedding(bool classToken, bool posEmbedding, string layer, string parameter)
    {
        using var scope = NewDisposeScope();
        using VisionTransformer model = WithoutAbsorbers(classToken, posEmbedding);

        var (_, report) = Report(model, new CpLrp());

        LayerBalance top = report.Absorbers(1).Single();
        Assert.Equal(layer, top.Name);
        ParameterShare share = Assert.Single(top.Parameters);
        Assert.Equal(parameter, share.Name);
        double absorbed = top.Absorbed.Sum();
        Assert.True(Math.Abs(absorbed) > 1e-3, $"{layer} absorbed only {absorbed}");
        // The share and the balance differ by the Norm rule's stabilizer (1e-9) only.
        Assert.True(Math.Abs(share.Total - absorbed) <= 1e-6 * Math.Max(1, Math.Abs(absorbed)),
            $"{parameter} took {share.Total}, {layer} absorbed {string.Join(", ", top.Absorbed)} (entering {string.Join(", ", top.Entering)}, leaving {string.Join(", ", top.Leaving)})");
        // Apart from the stabilizers, it accounts for the whole gap.
        double gap = report.Target.Sum() - report.Input.Sum();
        Assert.True(Math.Abs(gap - absorbed) <= 1e-4 * report.Target.Sum(Math.Abs), $"gap {gap}, absorbed {absorbed}");
    }

    [Fact]
    public void TheReportPutsTheHeadsBiasOnTheHead()
    {
        using var scope = NewDisposeScope();
        using VisionTransformer model = WithoutAbsorbers();
        using (no_grad())
        {
            model.state_dict()["heads.head.bias"].fill_(Scalars.Of(0.5));
        }

        var (result, report) = Report(model, new CpLrp());

        // Epsilon on the head: the bias takes R * b / (z + eps) with R = z = the logit, i.e. b (less the stabilizer's bit).
        LayerBalance head = report.Absorbers(1).Single();
        Assert.Equal("heads.head", head.Name);
        for (int s = 0; s < 2; s++)
        {
            Assert.Equal(0.5, head.Absorbed[s], 4);
        }
    }

    /// <summary>A rule that counts its calls and hands on nothing.</summary>
    private sealed class Silencing : Rule
    {
        public int Calls { get; private set; }

        public override bool ReadsOutput => false;

        public override Tensor Backward(RuleCall call, Tensor gradOutput)
        {
            Calls++;
            return zeros_like(call.Input);
        }

        public override string ToString() => "Silencing";
    }

    [Fact]
    public void ARuleGivenToOneAttentionsQueryProjectionIsCalled()
    {
        using var scope = NewDisposeScope();
        using VisionTransformer model = VitTinyTests.LoadVitTiny();
        const string query = "encoder.layers.encoder_layer_0.self_attention.q";
        var silencing = new Silencing();

        var (result, report) = ConservationReport.Attribute(
            new Gradient(model, new AttnLrp(nameMap: [([query], silencing)])), Input(), AttributionTarget.ClassScore(3));
        using AttributionResult plain = new Gradient(model, new AttnLrp(), AttributionTarget.ClassScore(3)).Attribute(Input());

        Assert.Equal(1, silencing.Calls);
        LayerBalance q = report.Layers.Single(l => l.Name == query);
        Assert.Equal("Silencing", q.Rule);
        Assert.All(q.Leaving, v => Assert.Equal(0.0, v));
        Assert.True(q.Entering.Any(v => Math.Abs(v) > 1e-6), "relevance reaches q under AttnLRP");
        Assert.True((result.Relevance - plain.Relevance).abs().max().item<double>() > 1e-6, "silencing q changes the attribution");
        // The other block's q keeps AttnLRP's rule.
        Assert.StartsWith("Epsilon", report.Layers.Single(l => l.Name == "encoder.layers.encoder_layer_1.self_attention.q").Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLayerMapCoversLanguageModelLayersByKind()
    {
        Rule? Under(bool cp, torch.nn.Module module) =>
            TransformerLayerMap.Create(cp).FirstOrDefault(e => e.Kind.Matches(module)).Rule;

        Assert.IsType<Pass>(Under(false, nn.SiLU()));
        Assert.IsType<Pass>(Under(false, nn.GELU()));
        Assert.IsType<Pass>(Under(false, nn.Tanh()));
        Assert.IsType<Pass>(Under(false, new RMSNorm(4)));
        Assert.IsType<Uniform>(Under(false, new Multiply(gate: 0)));
        Assert.IsType<ConstantGate>(Under(true, new Multiply(gate: 0)));
        Assert.IsType<Uniform>(Under(true, new MatMul()));
        Assert.IsType<SoftmaxRule>(Under(true, nn.Softmax(-1)));
        Assert.IsType<LayerNormRule>(Under(true, nn.LayerNorm(4)));
        Assert.IsType<Norm>(Under(true, new Add()));
        Assert.Equal($"Epsilon({Stabilizer.Exact})", Assert.IsType<Epsilon>(Under(false, new Rotation())).ToString());
        Assert.IsType<Gamma>(TransformerLayerMap.Create(false, linearGamma: 0.05).First(e => e.Kind.Matches(nn.Linear(2, 2))).Rule);
        Assert.IsType<Epsilon>(TransformerLayerMap.Create(false, linearGamma: 0.05).First(e => e.Kind.Matches(nn.Conv2d(1, 1, 1))).Rule);
    }

    private sealed class Rotation : torch.nn.Module<Tensor, Tensor>, ILinearOperation
    {
        public Rotation() : base(nameof(Rotation))
        {
        }

        public override Tensor forward(Tensor input) => input.flip(-1);
    }
}
