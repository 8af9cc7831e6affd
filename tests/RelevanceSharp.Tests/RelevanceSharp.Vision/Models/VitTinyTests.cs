using System.Text.Json;
using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.Models;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Models;

/// <summary>The vit_tiny reference cases (LXT's AttnLRP and CP-LRP), run through library calls.</summary>
public class VitTinyTests
{
    private readonly ITestOutputHelper output;

    public VitTinyTests(ITestOutputHelper output) => this.output = output;

    internal static VisionTransformer LoadVitTiny()
    {
        string folder = TestPaths.ConformancePath("vit_tiny");
        using JsonDocument spec = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "model.json")));
        VisionTransformer model = VisionTransformer.FromSpec(spec.RootElement);
        model.to(ScalarType.Float64);
        model.eval();
        Dictionary<string, Tensor> weights = SafeTensors.Load(Path.Combine(folder, "weights.safetensors"));
        StateDict.Load(model, weights, "vit_tiny/weights.safetensors");
        foreach (Tensor t in weights.Values)
        {
            t.Dispose();
        }
        return model;
    }

    public static TheoryData<string> Cases() => new()
    {
        "gradient", "attnlrp", "attnlrp+conv_gamma=0.25+linear_gamma=0.05", "cp_lrp", "cp_lrp+conv_gamma=0.25+linear_gamma=0.05",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CaseMatchesTheReference(string name)
    {
        using var scope = NewDisposeScope();
        using VisionTransformer model = LoadVitTiny();
        Dictionary<string, Tensor> expected = SafeTensors.Load(TestPaths.ConformancePath("vit_tiny", "expected.safetensors"));
        Tensor input = expected["input"];
        bool gamma = name.Contains("gamma", StringComparison.Ordinal);
        Composite? composite = name switch
        {
            "gradient" => null,
            _ when name.StartsWith("attnlrp", StringComparison.Ordinal) => new AttnLrp(linearGamma: gamma ? 0.05 : null, convGamma: gamma ? 0.25 : null),
            _ => new CpLrp(linearGamma: gamma ? 0.05 : null, convGamma: gamma ? 0.25 : null),
        };
        using AttributionResult result = new Gradient(model, composite, (composite is null ? AttributionTarget.Class(3) : AttributionTarget.ClassScore(3))).Attribute(input);

        double outputError = (result.Output - expected["output"]).abs().max().item<double>();
        double outputAllowed = 1e-9 + 1e-5 * expected["output"].abs().max().item<double>();
        Tensor reference = expected[name];
        double error = (result.Relevance - reference).abs().max().item<double>();
        double allowed = 1e-9 + 1e-5 * reference.abs().max().item<double>();
        output.WriteLine($"{name}: max error {error:E3}, allowed {allowed:E3} ({error / allowed:F4} of it); output {outputError:E3}");
        Assert.True(outputError <= outputAllowed, $"output {outputError} > {outputAllowed}");
        Assert.True(error <= allowed, $"relevance {error} > {allowed}");
    }

    [Fact]
    public void CpLrpNeverReachesTheQueriesKeysAndSoftmax()
    {
        // CP-LRP holds the attention weights constant: the backward pass must skip everything that only feeds them
        // (as LXT's stop-gradient does) instead of carrying zeros through it; AttnLRP runs their rules.
        using var scope = NewDisposeScope();
        using VisionTransformer model = LoadVitTiny();
        Tensor input = SafeTensors.Load(TestPaths.ConformancePath("vit_tiny", "expected.safetensors"))["input"];
        foreach ((Composite composite, bool reached) in new (Composite, bool)[] { (new CpLrp(), false), (new AttnLrp(), true) })
        {
            var counters = new EngineCounters();
            composite.Counters = counters;
            using AttributionResult result = new Gradient(model, composite, AttributionTarget.ClassScore(3)).Attribute(input);
            string[] attention = counters.RuleMilliseconds.Keys
                .Where(k => k.EndsWith(".q", StringComparison.Ordinal) || k.EndsWith(".k", StringComparison.Ordinal) || k.EndsWith(".softmax", StringComparison.Ordinal))
                .ToArray();
            Assert.True(counters.RuleMilliseconds.Keys.Any(k => k.EndsWith(".v", StringComparison.Ordinal)), "no rule ran on the values");
            Assert.Equal(reached ? 6 : 0, attention.Length);
        }
    }
}
