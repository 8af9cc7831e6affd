using RelevanceSharp.Conformance;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.IO;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Fuzz;

/// <summary>
/// One harness per reader of untrusted input. Each feeds the bytes to the reader as a user's file would reach it and
/// accepts the reader's documented refusals (<see cref="InvalidDataException"/>, naming the file); anything else
/// escaping, a native crash or a hang is a finding.
/// </summary>
public static class Harnesses
{
    /// <summary>The harness names, as the fuzzer's first argument takes them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["image", "safetensors", "pth", "model-json", "cases-json", "onnx"];

    /// <summary>Runs one harness on one input.</summary>
    public static void Run(string name, byte[] data)
    {
        using var scope = NewDisposeScope();
        try
        {
            switch (name)
            {
                case "image":
                    ImageIO.Decode(data, source: "fuzz.png");
                    break;
                case "safetensors":
                    foreach (Tensor tensor in SafeTensors.Read(data, "fuzz.safetensors").Values)
                    {
                        tensor.Dispose();
                    }
                    break;
                case "pth":
                    WithFile("fuzz.pth", data, path => Checkpoint.Read(path).Dispose());
                    break;
                case "model-json":
                    WithFile("model.json", data, path => Architectures.Load(path).Dispose());
                    break;
                case "onnx":
                    OnnxHarness.Run(data);
                    break;
                case "cases-json":
                    WithFile("cases.json", data, path => ConformanceRunner.CaseNames(Path.GetDirectoryName(path)!));
                    break;
                default:
                    throw new ArgumentException($"Unknown harness '{name}'; known: {string.Join(", ", Names)}.");
            }
        }
        catch (InvalidDataException)
        {
            // The reader refused the input in one line: the expected outcome for most inputs.
        }
    }

    private static void WithFile(string fileName, byte[] data, Action<string> read)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"relevancesharp-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, fileName);
        File.WriteAllBytes(path, data);
        read(path);
    }
}
