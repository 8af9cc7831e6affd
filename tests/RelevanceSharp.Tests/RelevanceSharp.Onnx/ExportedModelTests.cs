using RelevanceSharp.Onnx;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>
/// Every committed export (tiny conformance models with and without batch-norm fusion, MobileNet- and
/// EfficientNet-style networks, operator sets 9 to 17, fixed and open batch) imported and run on the exporter's input:
/// the logits must be PyTorch's (float64 to 1e-9, float32 to 1e-4 of the largest logit) and, for float32 files,
/// ONNX Runtime's.
/// </summary>
public sealed class ExportedModelTests
{
    public static TheoryData<string> Models() => new(OnnxFiles.All());

    /// <summary>
    /// The float32 files, less one that ONNX Runtime refuses to load: at operator set 9, which has no ceil mode,
    /// PyTorch writes its ceil-mode max pool as a pool with padding as large as the window after the input, and ONNX
    /// Runtime requires padding smaller than the window. The import computes it (PyTorch's logits, above).
    /// </summary>
    public static TheoryData<string> RuntimeModels() => new(OnnxFiles.All().Where(n => n != "mobilenet_style_opset9"
        && OnnxFiles.Reference(n).Logits.dtype == ScalarType.Float32));

    [Theory]
    [MemberData(nameof(Models))]
    public void LogitsAreTheExporters(string name)
    {
        using var scope = NewDisposeScope();
        var (input, logits) = OnnxFiles.Reference(name);
        using OnnxModel model = OnnxModel.Load(OnnxFiles.PathOf(name));
        Tensor output;
        using (no_grad())
        {
            output = model.forward(input.to(logits.dtype));
        }
        Assert.Equal(logits.shape, output.shape);
        double tolerance = logits.dtype == ScalarType.Float64 ? 1e-9 : 1e-4;
        double error = OnnxFiles.RelativeError(Support.D(logits), Support.D(output));
        Assert.True(error <= tolerance, $"{name}: logits differ from PyTorch's by {error:E3} of the largest, more than {tolerance:E0}.");
    }

    [Theory]
    [MemberData(nameof(RuntimeModels))]
    public void LogitsAreOnnxRuntimes(string name)
    {
        using var scope = NewDisposeScope();
        var (input, _) = OnnxFiles.Reference(name);
        string path = OnnxFiles.PathOf(name);
        using OnnxModel model = OnnxModel.Load(path);
        Tensor output;
        using (no_grad())
        {
            output = model.forward(input);
        }
        double[] reference = OnnxFiles.RunOnnxRuntime(path, input).Select(v => (double)v).ToArray();
        double error = OnnxFiles.RelativeError(reference, Support.D(output));
        Assert.True(error <= 1e-4, $"{name}: logits differ from ONNX Runtime's by {error:E3} of the largest.");
    }

    [Fact]
    public void OpenBatchTakesAnyBatchSize()
    {
        using var scope = NewDisposeScope();
        var (input, logits) = OnnxFiles.Reference("efficientnet_style_opset17");
        using OnnxModel model = OnnxModel.Load(OnnxFiles.PathOf("efficientnet_style_opset17"));
        Assert.Null(model.BatchSize);
        using (no_grad())
        {
            // One sample at a time gives the rows of the batch.
            for (int i = 0; i < input.shape[0]; i++)
            {
                Tensor row = model.forward(input.narrow(0, i, 1));
                Support.AssertClose(Support.D(logits.narrow(0, i, 1)), row, 1e-4, $"sample {i}");
            }
            Tensor three = model.forward(cat([input, input.narrow(0, 0, 1)], 0));
            Assert.Equal(new long[] { 3, 10 }, three.shape);
        }
    }

    [Fact]
    public void FixedBatchRunsInParts()
    {
        using var scope = NewDisposeScope();
        var (input, logits) = OnnxFiles.Reference("sequential_bn_opset9");
        using OnnxModel model = OnnxModel.Load(OnnxFiles.PathOf("sequential_bn_opset9"));
        Assert.Equal(2, model.BatchSize);
        using (no_grad())
        {
            // One sample (filled up to the graph's batch of 2) and three samples (two parts) give the same rows.
            Support.AssertClose(Support.D(logits.narrow(0, 1, 1)), model.forward(input.narrow(0, 1, 1)), 1e-9, "one sample");
            Tensor three = model.forward(cat([input, input.narrow(0, 0, 1)], 0));
            Support.AssertClose(Support.D(cat([logits, logits.narrow(0, 0, 1)], 0)), three, 1e-9, "three samples");
        }
    }
}

/// <summary>The fuzzer's seed corpus for ONNX: valid models, each computing what ONNX Runtime computes.</summary>
public sealed class OnnxFuzzSeedTests
{
    public static TheoryData<string> Seeds() => new(Directory.GetFiles(Path.Combine(TestPaths.RepositoryRoot, "fuzz", "corpus", "onnx"), "*.onnx")
        .Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Seeds))]
    public void SeedLoadsAndMatchesOnnxRuntime(string file)
    {
        using var scope = NewDisposeScope();
        string path = Path.Combine(TestPaths.RepositoryRoot, "fuzz", "corpus", "onnx", file);
        using OnnxModel model = OnnxModel.Load(path);
        long[] shape = [model.BatchSize ?? 2, .. model.InputShape];
        Tensor input = tensor(Support.Values((int)shape.Aggregate(1L, (a, b) => a * b), 11).Select(v => (float)v).ToArray(), shape);
        Tensor output;
        using (no_grad())
        {
            output = model.forward(input);
        }
        double[] reference = OnnxFiles.RunOnnxRuntime(path, input).Select(v => (double)v).ToArray();
        double error = OnnxFiles.RelativeError(reference, Support.D(output));
        Assert.True(error <= 1e-5, $"{file}: differs from ONNX Runtime by {error:E3}.");
    }
}
