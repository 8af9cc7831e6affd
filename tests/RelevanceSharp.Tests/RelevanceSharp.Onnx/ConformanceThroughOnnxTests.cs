using RelevanceSharp.Conformance;
using RelevanceSharp.Onnx;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>
/// The conformance cases of densenet_tiny, resnet_basic_tiny and sequential_bn, run by the conformance runner on the
/// models imported from their ONNX exports in place of the model zoo's: every composite, canonizer and attributor of
/// their <c>cases.json</c>, with the runner's pass criterion (relevance and output within
/// <c>atol + rtol * max|expected|</c>).
/// <para>
/// The import makes every operation a module. Where the PyTorch code computed an operation with a function, which the
/// reference's rules never saw (torchvision's ResNet adds its residuals with <c>+=</c>; its DenseNet applies the final
/// ReLU and pool with <c>F.relu</c> and <c>F.adaptive_avg_pool2d</c>), those nodes run as functions
/// (<see cref="OnnxModel.RunAsFunctions"/>) in the cases whose canonizers leave them functions in the zoo; the
/// <c>resnet</c> canonizer makes the residual sums modules and the DenseNet canonizers the head, as the imported graph
/// has them anyway.
/// </para>
/// </summary>
public sealed class ConformanceThroughOnnxTests
{
    private readonly ITestOutputHelper output;

    public ConformanceThroughOnnxTests(ITestOutputHelper output) => this.output = output;

    /// <summary>The cases that use each part of the import (gradient, rules, every canonizer), for the other operator sets.</summary>
    private static readonly string[] Sample =
    [
        "gradient", "epsilon_plus_flat", "epsilon_gamma_box+densenet_thresh_seq", "epsilon_alpha2_beta1_flat+densenet_seq_thresh",
        "epsilon_alpha2_beta1_flat+resnet", "epsilon_plus+sequential_merge_batch_norm", "occlusion", "integrated_gradients",
    ];

    public static TheoryData<string, string> Runs() => new()
    {
        { "densenet_tiny_opset13", "all" },
        { "resnet_basic_tiny_opset13", "all" },
        { "sequential_bn_opset13", "all" },
        { "densenet_tiny_opset9", "sample" },
        { "densenet_tiny_opset17", "sample" },
        { "resnet_basic_tiny_opset9", "sample" },
        { "resnet_basic_tiny_opset17", "sample" },
        { "sequential_bn_opset9", "sample" },
        { "sequential_bn_opset17", "sample" },
        { "densenet_tiny_fused", "fused" },
        { "sequential_bn_fused", "fused" },
    };

    [Theory]
    [MemberData(nameof(Runs))]
    public void CasesMatchTheReference(string file, string selection)
    {
        string model = OnnxFiles.ConformanceModel(file)!;
        string folder = TestPaths.ConformancePath(model);
        IReadOnlyList<string> all = ConformanceRunner.CaseNames(folder);
        string[] only = selection switch
        {
            "all" => all.ToArray(),
            "sample" => all.Intersect(Sample).ToArray(),
            _ => all.Where(FusedMeaningful).ToArray(),
        };
        Assert.NotEmpty(only);
        var substitute = new SubstituteModel(
            type =>
            {
                OnnxModel onnx = OnnxModel.Load(OnnxFiles.PathOf(file));
                onnx.to(type);
                return onnx;
            },
            (onnx, canonizers) => ((OnnxModel)onnx).RunAsFunctions(FunctionalInPyTorch(model, (OnnxModel)onnx, canonizers)));
        List<CheckResult> results = ConformanceRunner.RunCases(folder, substitute, only).ToList();
        foreach (CheckResult result in results)
        {
            output.WriteLine($"{file}: {result}");
        }
        Assert.Equal(only.Length, results.Count);
        Assert.All(results, r => Assert.True(r.Status == CheckStatus.Passed, $"{file}: {r}"));
    }

    /// <summary>
    /// With batch norms fused into the convolutions before them by the exporter, the cases whose canonizers merge
    /// exactly those batch norms into exactly those convolutions stay meaningful: the sequential merge (the export fused
    /// the convolutions' batch norms; the canonizer finds nothing more to merge, or sequential_bn's dense layer's batch
    /// norm), and densenet_seq_thresh (whose sequential merge is the export's fusion) under the LRP composites and the
    /// gradient. Not guided backprop
    /// and DeconvNet: in the zoo, the ReLU after a merged (identity) batch norm becomes a ThreshReLU that their ReLU
    /// rule does not see, while in the fused export that batch norm is gone and the ReLU keeps its rule. Not the cases
    /// without canonizers or with densenet_thresh_seq: they keep or merge batch norms the export no longer has.
    /// </summary>
    private static bool FusedMeaningful(string name) =>
        name.EndsWith("+sequential_merge_batch_norm", StringComparison.Ordinal)
        || name.EndsWith("+densenet_seq_thresh", StringComparison.Ordinal)
            && !name.StartsWith("guided_backprop", StringComparison.Ordinal) && !name.StartsWith("deconvnet", StringComparison.Ordinal);

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
}
