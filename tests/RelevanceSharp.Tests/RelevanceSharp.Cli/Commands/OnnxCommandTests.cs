using System.Text.Json;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Onnx;
using RelevanceSharp.Tests.Onnx;
using RelevanceSharp.Vision.Imaging;
using static RelevanceSharp.Tests.Onnx.GraphMaker;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Cli;

/// <summary><c>explain</c>, <c>predict</c> and <c>inspect</c> with <c>--model FILE.onnx</c>.</summary>
public sealed class OnnxCommandTests : IDisposable
{
    private readonly CliWorkspace work = new();

    public void Dispose() => work.Dispose();

    private static string Model(string name) => Path.Combine(OnnxFiles.Folder, name + ".onnx");

    [Fact]
    public void PredictJsonGivesTheModelsOutputForThePreparedImage()
    {
        using var scope = NewDisposeScope();
        string[] images = [work.Image("a.png", 90, 70, seed: 3), work.Image("b.png", 64, 80, seed: 4), work.Image("c.png", 100, 100, seed: 5)];
        CliResult result = CliWorkspace.Run("predict", work.Root, "--model", Model("efficientnet_style_opset17"), "--json", "--top", "3", "--batch-size", "2");
        Assert.True(result.Code == 0, result.Error);
        Assert.Equal(3, result.Lines.Length);
        // The graph takes 64x64 images: resized to 73 (64 * 256/224) and cropped to 64, ImageNet's normalization.
        ImageTransform transform = ImageTransform.ImageNet(73, 64);
        using OnnxModel model = OnnxModel.Load(Model("efficientnet_style_opset17"));
        for (int i = 0; i < 3; i++)
        {
            using JsonDocument line = JsonDocument.Parse(result.Lines[i]);
            Assert.Equal(images[i], line.RootElement.GetProperty("file").GetString());
            double[] logits = line.RootElement.GetProperty("logits").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Tensor expected;
            using (no_grad())
            {
                expected = model.forward(ImageIO.LoadInput(images[i], transform));
            }
            Support.AssertClose(Support.D(expected), logits, 1e-6, "logits");
            var top = line.RootElement.GetProperty("top").EnumerateArray().ToList();
            Assert.Equal(3, top.Count);
            Assert.Equal(Array.IndexOf(logits, logits.Max()), top[0].GetProperty("class").GetInt32());
        }
        CliResult plain = CliWorkspace.Run("predict", images[0], "--model", Model("efficientnet_style_opset17"), "--top", "2");
        Assert.True(plain.Code == 0, plain.Error);
        Assert.Matches(@"^a\.png: 1\. \d \(\d+\.\d%\), 2\. \d \(\d+\.\d%\)$", Assert.Single(plain.Lines));
    }

    [Fact]
    public void ExplainWritesFiniteHeatmapsWithCanonizers()
    {
        work.Image("in/a.png", 40, 40, seed: 1);
        work.Image("in/b.png", 50, 36, seed: 2);
        CliResult result = CliWorkspace.Run("explain", work.PathOf("in"), "--model", Model("densenet_tiny_opset13"), "--composite",
            "epsilon_gamma_box+densenet_seq_thresh", "--relevance-format", "npy", "-o", work.Output);
        Assert.True(result.Code == 0, result.Error);
        Assert.Contains("densenet_tiny_opset13.onnx (ONNX opset 13, output 'logits', computed in float32)", result.Output);
        foreach (string name in new[] { "a", "b" })
        {
            Assert.True(File.Exists(Path.Combine(work.Output, name + ".png")));
            using var scope = NewDisposeScope();
            Tensor relevance = RelevanceSharp.IO.Npy.Load(Path.Combine(work.Output, name + ".npy"));
            Assert.Equal(new long[] { 3, 32, 32 }, relevance.shape);
            Assert.True(relevance.isfinite().all().item<bool>());
            Assert.True(relevance.abs().sum().item<float>() > 0);
        }
    }

    [Fact]
    public void ExplainExplainsTheLogitsBeforeAFinalSoftmax()
    {
        var g = new GraphMaker(13);
        g.Input("image", "N", 3, 8, 8);
        string logits = g.Node("Gemm", [g.Node("Flatten", [g.Node("Relu", [g.Node("Conv", ["image", g.Floats([2, 3, 3, 3])])])]), g.Floats([4, 72])], Int("transB", 1));
        g.Output(g.Node("Softmax", [logits], Int("axis", 1)));
        string path = work.File("soft.onnx", g.Bytes());
        work.Image("in/a.png", 8, 8, seed: 7);
        CliResult result = CliWorkspace.Run("explain", work.PathOf("in"), "--model", path, "-o", work.Output);
        Assert.True(result.Code == 0, result.Error);
        Assert.Contains($"Note: the graph ends in a softmax; explaining its input '{logits}' (the logits)", result.Output);
        // predict reports the graph's output, the probabilities themselves.
        CliResult predicted = CliWorkspace.Run("predict", work.PathOf("in"), "--model", path, "--json");
        using JsonDocument line = JsonDocument.Parse(Assert.Single(predicted.Lines));
        Assert.Equal(1.0, line.RootElement.GetProperty("logits").EnumerateArray().Sum(v => v.GetDouble()), 1e-5);
    }

    [Fact]
    public void InspectListsNodesModulesAndRules()
    {
        CliResult result = CliWorkspace.Run("inspect", Model("efficientnet_style_opset17"), "--composite", "epsilon_gamma_box");
        Assert.True(result.Code == 0, result.Error);
        Assert.Contains("ONNX operator set 17, written by pytorch", result.Output);
        Assert.Contains("built:   input 'input' [N, 3, 64, 64], any batch; output 'logits' [1, 10]", result.Output);
        string[] rows = result.Lines;
        Assert.Matches(@"/stem/stem\.1/Conv\s+Conv\s+\[1, 8, 32, 32\]\s+Conv2d\(3 -> 8\)\s+ZBox", rows.Single(r => r.StartsWith("/stem/stem.1/Conv", StringComparison.Ordinal)));
        Assert.Contains(rows, r => r.StartsWith("/stem/stem.3/Mul", StringComparison.Ordinal) && r.EndsWith("ConstantGate", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("/classifier/Gemm", StringComparison.Ordinal) && r.Contains("Epsilon", StringComparison.Ordinal));
        Assert.Contains("nodes computed once at load time are not listed", result.Output);
        Assert.Contains(CliWorkspace.Run("inspect", Model("efficientnet_style_opset17"), "--all").Lines, r => r.Contains("(constant)", StringComparison.Ordinal));
    }

    [Fact]
    public void ChoicesAndMistakesAreOneErrorLine()
    {
        var g = new GraphMaker(13);
        g.Input("image", 1, 3, 8, 8);
        g.Input("mask", 1, 3, 8, 8);
        g.Output(g.Node("Relu", ["image"]));
        g.Output(g.Node("Sigmoid", ["mask"]));
        string two = work.File("two.onnx", g.Bytes());
        string image = work.Image("a.png", 8, 8);
        void Refused(string expected, params string[] args)
        {
            CliResult result = CliWorkspace.Run(args);
            Assert.Equal(1, result.Code);
            string line = Assert.Single(result.ErrorLines, l => l.StartsWith("error: ", StringComparison.Ordinal));
            Assert.Contains(expected, line);
        }
        Refused("the graph has 2 inputs; choose one with --input: image (float [1, 3, 8, 8]), mask (float [1, 3, 8, 8])", "predict", image, "--model", two);
        Refused("the graph has 2 outputs; choose one with --model-output:", "explain", image, "--model", two, "--input", "image", "-o", work.Output);
        Refused("the graph has no input 'nose'", "inspect", two, "--input", "nose");
        Refused("--weights is for zoo and demo models; an ONNX file holds its weights", "explain", image, "--model", Model("sequential_bn_opset13"), "--weights", "w.pth");
        Refused("--input and --model-output are for ONNX models", "predict", image, "--model", "demo", "--input", "x");
        Refused("the graph takes images of 16x16 pixels; --crop 32 does not fit", "predict", image, "--model", Model("sequential_bn_opset13"), "--crop", "32", "--size", "40");
        Refused("not a valid ONNX (protobuf) file", "explain", image, "--model", work.File("broken.onnx", [0x0a, 0xff, 0xff, 0x01]), "-o", work.Output);
        Refused("inspect reads ONNX files", "inspect", image);
        // Both outputs can be reached by choosing.
        CliResult chosen = CliWorkspace.Run("predict", image, "--model", two, "--input", "mask", "--model-output", g.Graph.Output[1].Name, "--json");
        Assert.True(chosen.Code == 0, chosen.Error);
    }

    [Fact]
    public void AnOnnxImportKnowsItsDefaults()
    {
        OnnxImport import = OnnxImport.Open(Model("mobilenet_style_opset13"), null, null, beforeSoftmax: true);
        Assert.Equal(ImageTransform.ImageNet(73, 64), import.DefaultTransform);
        Assert.False(import.ChannelsLast);
        Assert.Null(import.Note);
    }
}
