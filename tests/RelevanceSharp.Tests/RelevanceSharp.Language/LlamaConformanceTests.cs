using System.Text.Json;
using RelevanceSharp.Composites;
using RelevanceSharp.Rules;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Language;

/// <summary>
/// The llama_tiny reference cases (LXT's LLaMA recipes on a plain-PyTorch model) through library calls: the model's
/// logits, the gradient, AttnLRP and CP-LRP at the input embeddings, and CP-LRP's conservation.
/// </summary>
public class LlamaConformanceTests
{
    private readonly ITestOutputHelper output;

    public LlamaConformanceTests(ITestOutputHelper output) => this.output = output;

    private static Tensor Relevance(DecoderModel model, Tensor ids, TextMethod method)
    {
        int batch = (int)ids.shape[0], last = (int)ids.shape[1] - 1;
        return TextExplainer.Attribute(model, ids, method, Enumerable.Repeat(last, batch).ToArray(), Enumerable.Repeat(7, batch).ToArray());
    }

    [Fact]
    public void LogitsMatchTheReference()
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = LanguageTestKit.LoadLlamaTiny();
        Dictionary<string, Tensor> expected = LanguageTestKit.Expected();
        var (error, allowed) = LanguageTestKit.Compare(model.Logits(expected["input_ids"]), expected["output"]);
        output.WriteLine($"logits: max error {error:E3}, allowed {allowed:E3}");
        Assert.True(error <= allowed, $"logits differ by {error:E3} > {allowed:E3}");
    }

    public static TheoryData<string> Cases() => new() { "gradient", "attnlrp", "cp_lrp" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CaseMatchesTheReference(string name)
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = LanguageTestKit.LoadLlamaTiny();
        Dictionary<string, Tensor> expected = LanguageTestKit.Expected();
        TextMethod method = name switch
        {
            "gradient" => TextMethod.Gradient,
            "attnlrp" => TextMethod.Lrp(name, LanguageTestKit.AttnLrp()),
            _ => TextMethod.Lrp(name, LanguageTestKit.CpLrp()),
        };
        Tensor relevance = Relevance(model, expected["input_ids"], method);
        var (error, allowed) = LanguageTestKit.Compare(relevance, expected[name]);
        output.WriteLine($"{name}: max error {error:E3}, allowed {allowed:E3}");
        Assert.True(error <= allowed, $"{name} differs by {error:E3} > {allowed:E3}");
    }

    [Fact]
    public void CpLrpConservesTheTargetLogitOnABiasFreeModel()
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = LanguageTestKit.LoadLlamaTiny();
        Assert.False(model.Config.QkvBias || model.Config.OutputBias || model.Config.MlpBias);
        Tensor ids = LanguageTestKit.Expected()["input_ids"];
        Tensor relevance = Relevance(model, ids, TextMethod.Lrp("cp_lrp", LanguageTestKit.CpLrp()));
        Tensor logits = model.Logits(ids).detach()[.., -1, 7];
        double[] sums = Support.D(relevance.sum(new long[] { 1, 2 })), targets = Support.D(logits);
        for (int b = 0; b < sums.Length; b++)
        {
            output.WriteLine($"sample {b}: relevance sum {sums[b]:R}, logit {targets[b]:R}");
            Assert.True(Math.Abs(sums[b] - targets[b]) <= 1e-6 * Math.Abs(targets[b]), $"sample {b}: {sums[b]} vs {targets[b]}");
        }
        // AttnLRP on the same model is not conservative (its softmax rule absorbs): the check can tell them apart.
        Tensor attn = Relevance(model, ids, TextMethod.Lrp("attnlrp", LanguageTestKit.AttnLrp()));
        Assert.True(Math.Abs(Support.D(attn.sum())[0] - targets.Sum()) > 1e-3 * Math.Abs(targets.Sum()));
    }

    // The registry's attnlrp and cp_lrp (the same composites as for vision transformers), given the exact stabilizer
    // as an argument, reproduce the cases: the decoder path adds no rules of its own.
    [Theory]
    [InlineData("attnlrp")]
    [InlineData("cp_lrp")]
    public void TheRegistrysNamedCompositeGivesTheCase(string name)
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = LanguageTestKit.LoadLlamaTiny();
        Dictionary<string, Tensor> expected = LanguageTestKit.Expected();
        var arguments = new ArgumentReader(new Dictionary<string, JsonElement> { ["epsilon"] = JsonDocument.Parse("1e-9").RootElement });
        Composite composite = CompositeRegistry.Create(name, arguments);
        Assert.IsType(name == "attnlrp" ? typeof(AttnLrp) : typeof(CpLrp), composite);
        Tensor relevance = Relevance(model, expected["input_ids"], TextMethod.Lrp(name, composite));
        var (error, allowed) = LanguageTestKit.Compare(relevance, expected[name]);
        Assert.True(error <= allowed, $"{name} differs by {error:E3} > {allowed:E3}");
    }

    // The rules the named composites give a decoder's modules, by layer type: RMSNorm the identity (its scale held
    // constant), SiLU the identity, the SwiGLU product and the attention's products the uniform rule under AttnLRP and
    // the constant gate under CP-LRP, the score product uniform under both, the projections Epsilon.
    [Fact]
    public void TheNamedCompositesGiveEachDecoderLayerTypeItsRule()
    {
        using DecoderModel model = LanguageTestKit.LoadLlamaTiny();
        var context = new Dictionary<string, object>();
        foreach (bool cp in new[] { false, true })
        {
            Composite composite = cp ? DecoderComposites.CpLrp() : DecoderComposites.AttnLrp();
            var rules = model.named_modules().ToDictionary(m => m.name, m => composite.MapModule(context, m.name, m.module)?.GetType());
            Assert.Equal(typeof(Pass), rules["model.layers.0.input_layernorm"]);
            Assert.Equal(typeof(Pass), rules["model.norm"]);
            Assert.Equal(typeof(Pass), rules["model.layers.0.mlp.act_fn"]);
            Assert.Equal(cp ? typeof(ConstantGate) : typeof(Uniform), rules["model.layers.0.mlp.product"]);
            Assert.Equal(cp ? typeof(ConstantGate) : typeof(Uniform), rules["model.layers.0.self_attn.mix"]);
            Assert.Equal(typeof(Uniform), rules["model.layers.0.self_attn.scores"]);
            Assert.Equal(typeof(Epsilon), rules["model.layers.0.self_attn.q_proj"]);
            Assert.Equal(typeof(Epsilon), rules["model.layers.0.mlp.down_proj"]);
        }
    }
}
