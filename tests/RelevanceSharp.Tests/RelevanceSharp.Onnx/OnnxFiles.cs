using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using RelevanceSharp.IO;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>
/// The committed ONNX test models (exported by <c>Models/export.py</c>) and the two references they are checked
/// against: PyTorch's outputs saved beside each file, and ONNX Runtime running the same file.
/// </summary>
internal static class OnnxFiles
{
    /// <summary>The folder of the committed models.</summary>
    public static string Folder { get; } =
        Path.Combine(TestPaths.RepositoryRoot, "tests", "RelevanceSharp.Tests", "RelevanceSharp.Onnx", "Models");

    /// <summary>Models whose files read their weights from the conformance folder's <c>weights.safetensors</c>.</summary>
    private static readonly string[] External = ["resnet_basic_tiny"];

    /// <summary>Every exported model, by file name without extension.</summary>
    public static IEnumerable<string> All() =>
        Directory.GetFiles(Folder, "*.onnx").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!;

    /// <summary>The conformance model a file was exported from, if any.</summary>
    public static string? ConformanceModel(string name) =>
        new[] { "densenet_tiny", "resnet_basic_tiny", "sequential_bn" }.FirstOrDefault(m => name.StartsWith(m + "_", StringComparison.Ordinal));

    /// <summary>
    /// The path to load a model from. Files with external weights are copied, with the conformance folder's weights,
    /// into a scratch folder (the importer reads external data only from files beside the model).
    /// </summary>
    public static string PathOf(string name)
    {
        string path = Path.Combine(Folder, name + ".onnx");
        if (ConformanceModel(name) is not { } model || !External.Contains(model))
        {
            return path;
        }
        string scratch = Path.Combine(Path.GetTempPath(), $"relevancesharp-onnx-{Environment.ProcessId}", name);
        Directory.CreateDirectory(scratch);
        string copy = Path.Combine(scratch, name + ".onnx");
        string weights = Path.Combine(scratch, "weights.safetensors");
        lock (External)
        {
            if (!File.Exists(weights))
            {
                File.Copy(TestPaths.ConformancePath(model, "weights.safetensors"), weights);
            }
            if (!File.Exists(copy))
            {
                File.Copy(path, copy);
            }
        }
        return copy;
    }

    /// <summary>The input the exporter ran and PyTorch's output for it.</summary>
    public static (Tensor Input, Tensor Logits) Reference(string name)
    {
        Dictionary<string, Tensor> tensors = SafeTensors.Load(Path.Combine(Folder, name + ".safetensors"));
        return (tensors["input"], tensors["logits"]);
    }

    /// <summary>Runs a model in ONNX Runtime on a float32 input; returns the first output, flattened.</summary>
    public static float[] RunOnnxRuntime(string path, Tensor input, string? inputName = null)
    {
        using var session = new InferenceSession(path);
        return Run(session, input, inputName);
    }

    /// <summary>Runs the bytes of a model in ONNX Runtime on a float32 input; returns the first output, flattened.</summary>
    public static float[] RunOnnxRuntime(byte[] model, Tensor input, string? inputName = null)
    {
        using var session = new InferenceSession(model);
        return Run(session, input, inputName);
    }

    private static float[] Run(InferenceSession session, Tensor input, string? inputName)
    {
        float[] data = input.to(ScalarType.Float32).contiguous().data<float>().ToArray();
        var value = new DenseTensor(data, input.shape.Select(d => (int)d).ToArray());
        string name = inputName ?? session.InputMetadata.Keys.First();
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(name, value) });
        return results.First().AsEnumerable<float>().ToArray();
    }

    /// <summary>The largest difference relative to the largest reference value.</summary>
    public static double RelativeError(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs);
        double error = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        return error / Math.Max(scale, 1e-30);
    }
}
