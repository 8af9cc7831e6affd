using System.Text.Json;
using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.IO;
using RelevanceSharp.Onnx;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>
/// The conformance cases of densenet_tiny, resnet_basic_tiny and sequential_bn, run on the models imported from their
/// ONNX exports instead of the model zoo's: every composite, canonizer and attributor of their <c>cases.json</c>, with
/// the pass criterion of the conformance runner (relevance and output within <c>atol + rtol * max|expected|</c>).
/// <para>
/// The import makes every operation a module. Where the PyTorch code computed an operation with a function, which
/// the reference's rules never saw (torchvision's ResNet adds its residuals with <c>+=</c>; its DenseNet applies the
/// final ReLU and pool with <c>F.relu</c> and <c>F.adaptive_avg_pool2d</c>), the cases without canonizers run those
/// nodes as functions (<see cref="OnnxModel.RunAsFunctions"/>); the canonizers of the other cases make exactly these
/// operations modules in the zoo (the residual sums, the explicit head), so the imported graph runs as it is.
/// </para>
/// </summary>
public sealed class ConformanceThroughOnnxTests
{
    private readonly ITestOutputHelper output;

    public ConformanceThroughOnnxTests(ITestOutputHelper output) => this.output = output;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string model in new[] { "densenet_tiny", "resnet_basic_tiny", "sequential_bn" })
        {
            foreach (string name in CaseNames(model))
            {
                data.Add($"{model}_opset13", name);
            }
        }
        // The other operator sets, on the cases that use each part of the import: plain gradient, rules, canonizers.
        foreach (string model in new[] { "densenet_tiny", "resnet_basic_tiny", "sequential_bn" })
        {
            foreach (string name in CaseNames(model).Where(n => n is "gradient" or "epsilon_plus_flat" or "epsilon_gamma_box+densenet_thresh_seq"
                         or "epsilon_alpha2_beta1_flat+resnet" or "epsilon_plus+sequential_merge_batch_norm"))
            {
                data.Add($"{model}_opset9", name);
                data.Add($"{model}_opset17", name);
            }
        }
        return data;
    }

    /// <summary>
    /// With batch norms fused into the convolutions before them by the exporter, the cases whose canonizers merge
    /// exactly those batch norms into exactly those convolutions stay meaningful: the sequential merge of sequential_bn
    /// (the export fused the convolutions' batch norms; the canonizer merges the dense layer's), and densenet_seq_thresh
    /// (whose sequential merge is the export's fusion) under the LRP composites and the gradient. Not guided backprop
    /// and DeconvNet: in the zoo, the ReLU after a merged (identity) batch norm becomes a ThreshReLU that their ReLU
    /// rule does not see, while in the fused export that batch norm is gone and the ReLU keeps its rule.
    /// </summary>
    public static TheoryData<string, string> FusedCases()
    {
        var data = new TheoryData<string, string>();
        foreach (string name in CaseNames("densenet_tiny").Where(n => n.EndsWith("+densenet_seq_thresh", StringComparison.Ordinal)
                     && !n.StartsWith("guided_backprop", StringComparison.Ordinal) && !n.StartsWith("deconvnet", StringComparison.Ordinal)))
        {
            data.Add("densenet_tiny_fused", name);
        }
        foreach (string name in CaseNames("sequential_bn").Where(n => n.EndsWith("+sequential_merge_batch_norm", StringComparison.Ordinal)))
        {
            data.Add("sequential_bn_fused", name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CaseMatchesTheReference(string file, string name) => Check(file, name);

    [Theory]
    [MemberData(nameof(FusedCases))]
    public void FusedExportMatchesTheMergedReference(string file, string name) => Check(file, name);

    private void Check(string file, string name)
    {
        using var scope = NewDisposeScope();
        string model = OnnxFiles.ConformanceModel(file)!;
        string folder = TestPaths.ConformancePath(model);
        using JsonDocument cases = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "cases.json")));
        JsonElement root = cases.RootElement;
        JsonElement spec = root.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        Dictionary<string, Tensor> expected = SafeTensors.Load(Path.Combine(folder, "expected.safetensors"));
        ScalarType type = root.GetProperty("dtype").GetString() == "float64" ? ScalarType.Float64 : ScalarType.Float32;
        double rtol = root.GetProperty("tolerance").GetProperty("rtol").GetDouble();
        double atol = root.GetProperty("tolerance").GetProperty("atol").GetDouble();
        Tensor input = expected["input"].to(type);
        Tensor reference = expected[spec.GetProperty("expected").GetString()!].to(type);

        OnnxModel onnx = Loaded(file, type);
        var canonizers = spec.GetProperty("canonizers").EnumerateArray().Select(c => CanonizerRegistry.Create(c.GetString()!)).ToList();
        using IDisposable functions = onnx.RunAsFunctions(FunctionalInPyTorch(model, onnx, canonizers.Select(c => c.Name).ToList()));
        Composite? composite = CreateComposite(spec, canonizers);
        long target = spec.GetProperty("target").GetInt64();
        AttributionTarget attributionTarget = spec.TryGetProperty("attr_output", out JsonElement kind) && kind.GetString() == "output_onehot"
            ? AttributionTarget.ClassScore(target)
            : AttributionTarget.Class(target);
        JsonElement attributorSpec = spec.GetProperty("attributor");
        Attributor attributor = attributorSpec.GetProperty("name").GetString() switch
        {
            "gradient" => new Gradient(onnx, composite, attributionTarget),
            "integrated_gradients" => new IntegratedGradients(onnx, composite, attributionTarget, iterations: attributorSpec.GetProperty("n_iter").GetInt32()),
            "occlusion" => new Occlusion(onnx, composite, attributionTarget,
                window: [attributorSpec.GetProperty("window").GetInt64()], stride: [attributorSpec.GetProperty("stride").GetInt64()]),
            var other => throw new NotSupportedException(other),
        };
        using AttributionResult result = attributor.Attribute(input);
        double error = (result.Relevance - reference).abs().max().to(ScalarType.Float64).item<double>();
        double allowed = atol + rtol * reference.abs().max().to(ScalarType.Float64).item<double>();
        double outputError = (result.Output - expected["output"].to(type)).abs().max().to(ScalarType.Float64).item<double>();
        double outputAllowed = atol + rtol * expected["output"].abs().max().to(ScalarType.Float64).item<double>();
        output.WriteLine($"{file}/{name}: max_abs_err={error:E3} allowed={allowed:E3}; output {outputError:E3} allowed {outputAllowed:E3}");
        Assert.True(error <= allowed, $"{file}/{name}: relevance differs by {error:E3}, allowed {allowed:E3}.");
        Assert.True(outputError <= outputAllowed, $"{file}/{name}: output differs by {outputError:E3}, allowed {outputAllowed:E3}.");
    }

    private static readonly Dictionary<string, OnnxModel> Models = new(StringComparer.Ordinal);

    /// <summary>
    /// One imported model per file for all its cases, as the conformance runner keeps one model per folder: every case
    /// leaves it as it found it (composites and canonizers are undone; the plain-function scope is disposed). The
    /// tests of one class run one after another.
    /// </summary>
    private static OnnxModel Loaded(string file, ScalarType type)
    {
        lock (Models)
        {
            if (!Models.TryGetValue(file, out OnnxModel? model))
            {
                model = OnnxModel.Load(OnnxFiles.PathOf(file));
                model.to(type);
                Models[file] = model;
            }
            return model;
        }
    }

    /// <summary>
    /// The nodes the PyTorch code computes with functions (see the class summary), less those the case's canonizers
    /// make modules in the zoo: the residual sums (<c>resnet</c>) and the DenseNet head (the DenseNet canonizers).
    /// </summary>
    private static IEnumerable<string> FunctionalInPyTorch(string model, OnnxModel onnx, IReadOnlyList<string> canonizers) => model switch
    {
        "resnet_basic_tiny" when !canonizers.Contains("resnet") =>
            onnx.Nodes.Where(n => n.Operator == "Add" && n.Kind == "module").Select(n => n.Name),
        "densenet_tiny" when !canonizers.Any(c => c.StartsWith("densenet", StringComparison.Ordinal)) =>
        [
            onnx.Nodes.Last(n => n.Operator == "Relu").Name,
            onnx.Nodes.Single(n => n.Operator == "GlobalAveragePool").Name,
        ],
        _ => [],
    };

    private static Composite? CreateComposite(JsonElement spec, IReadOnlyList<ICanonizer> canonizers)
    {
        JsonElement composite = spec.GetProperty("composite");
        if (composite.ValueKind == JsonValueKind.Null)
        {
            return canonizers.Count == 0 ? null : new LayerMapComposite(Array.Empty<(ModuleMatcher, Rule)>(), canonizers);
        }
        var args = new Dictionary<string, JsonElement>();
        if (composite.TryGetProperty("args", out JsonElement given))
        {
            foreach (JsonProperty property in given.EnumerateObject())
            {
                args[property.Name] = property.Value.Clone();
            }
        }
        return CompositeRegistry.Create(composite.GetProperty("name").GetString()!, new ArgumentReader(args), canonizers);
    }

    private static IEnumerable<string> CaseNames(string model)
    {
        using JsonDocument cases = JsonDocument.Parse(File.ReadAllText(TestPaths.ConformancePath(model, "cases.json")));
        return cases.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToList();
    }
}
