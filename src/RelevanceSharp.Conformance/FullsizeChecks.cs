using System.Globalization;
using System.Text.Json;
using RelevanceSharp.Core;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Conformance;

/// <summary>
/// Checks whole torchvision architectures against the <c>fullsize</c> reference files: one JSON file per
/// architecture with its state-dict keys and shapes in torchvision's order (<c>state_dict</c>), its parameter count
/// (<c>parameters</c>) and the float64 logits (<c>logits</c>) for weights and input set by the <see cref="HashV1"/>
/// filler. The model is built in float64 and filled by the formula; no weights file is involved.
/// </summary>
public static class FullsizeChecks
{
    /// <summary>Logits pass when <c>max|actual - expected| &lt;= RelativeTolerance * max|expected|</c>.</summary>
    public const double RelativeTolerance = 1e-9;


    /// <summary>
    /// The checks of a folder of architecture files, one per file in name order (run lazily, one model at a time),
    /// or <c>null</c> when the folder holds none (for <see cref="ConformanceRunner.FolderChecks"/>).
    /// </summary>
    public static IEnumerable<CheckResult>? TryRun(string folder)
    {
        if (File.Exists(Path.Combine(folder, "cases.json")) || File.Exists(Path.Combine(folder, "model.json")))
        {
            return null;
        }
        string[] files = ArchitectureFiles(folder);
        return files.Length == 0 ? null : files.Select(Check);
    }

    /// <summary>The architecture files of a folder (JSON files with <c>arch</c>, <c>filler</c> and <c>state_dict</c>), in name order.</summary>
    public static string[] ArchitectureFiles(string folder) =>
        Directory.GetFiles(folder, "*.json").Where(IsArchitectureFile).OrderBy(f => f, StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Checks one architecture file: same keys and shapes in the same order, same parameter count, and logits within
    /// tolerance. Fails with a description of the first differences; never throws for a bad file.
    /// </summary>
    public static CheckResult Check(string file)
    {
        // Named by folder and architecture: fullsize/resnet50, fullsize_vit/vit_b_16.
        string folder = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(file))) ?? "fullsize";
        string label = $"{folder}/{Path.GetFileNameWithoutExtension(file)}";
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(file));
            return Check(document.RootElement, label);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new CheckResult(label, CheckStatus.Failed, double.NaN, double.NaN, $"{ex.GetType().Name}: {ex.Message.Split('\n')[0]}");
        }
    }

    private static CheckResult Check(JsonElement root, string label)
    {
        string arch = root.GetProperty("arch").GetString() ?? "";
        string filler = root.TryGetProperty("filler", out JsonElement f) ? f.GetString() ?? "" : "";
        if (filler != "hash-v1")
        {
            return new CheckResult(label, CheckStatus.Skipped, 0, 0, $"weight filler '{filler}' is not implemented");
        }
        if (!ModelZoo.IsKnown(arch))
        {
            return new CheckResult(label, CheckStatus.Skipped, 0, 0, $"architecture '{arch}' is not in the model zoo yet");
        }
        double[] logits = root.GetProperty("logits").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        long[] inputShape = root.GetProperty("input_shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        var expectedKeys = root.GetProperty("state_dict").EnumerateArray()
            .Select(e => (Name: e[0].GetString() ?? "", Shape: e[1].EnumerateArray().Select(v => v.GetInt64()).ToArray()))
            .ToList();
        long expectedParameters = root.GetProperty("parameters").GetInt64();

        using var scope = NewDisposeScope();
        using ZooModel model = ModelZoo.Create(arch, logits.Length, ScalarType.Float64);
        var problems = new List<string>();
        var actualKeys = model.state_dict().Select(e => (Name: e.Key, Shape: e.Value.shape)).ToList();
        string? keyProblem = CompareKeys(expectedKeys, actualKeys);
        if (keyProblem is not null)
        {
            problems.Add(keyProblem);
        }
        long parameters = model.ParameterCount;
        if (parameters != expectedParameters)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{parameters:N0} parameters, expected {expectedParameters:N0}"));
        }
        if (keyProblem is not null)
        {
            // Logits of a different structure say nothing more.
            return new CheckResult(label, CheckStatus.Failed, double.NaN, double.NaN, string.Join("; ", problems));
        }

        HashV1.FillStateDict(model);
        double error, allowed;
        using (no_grad())
        {
            Tensor input = HashV1.CreateTensor("input", inputShape);
            Tensor output = model.call(input).flatten();
            Tensor expected = tensor(logits, dtype: ScalarType.Float64);
            error = ConformanceRunner.MaxAbsDifference(output, expected);
            allowed = RelativeTolerance * expected.abs().max().item<double>();
        }
        if (!(error <= allowed))
        {
            problems.Add("logits differ");
        }
        string summary = string.Create(CultureInfo.InvariantCulture, $"{actualKeys.Count} keys, {parameters:N0} parameters");
        return problems.Count == 0
            ? new CheckResult(label, CheckStatus.Passed, error, allowed, summary)
            : new CheckResult(label, CheckStatus.Failed, error, allowed, string.Join("; ", problems));
    }

    /// <summary>Describes the first differences between two ordered key lists with shapes, or <c>null</c> when they are equal.</summary>
    internal static string? CompareKeys(IReadOnlyList<(string Name, long[] Shape)> expected, IReadOnlyList<(string Name, long[] Shape)> actual)
    {
        var expectedNames = new HashSet<string>(expected.Select(e => e.Name), StringComparer.Ordinal);
        var actualNames = new HashSet<string>(actual.Select(e => e.Name), StringComparer.Ordinal);
        var missing = expected.Where(e => !actualNames.Contains(e.Name)).Select(e => e.Name).ToList();
        var unexpected = actual.Where(e => !expectedNames.Contains(e.Name)).Select(e => e.Name).ToList();
        var parts = new List<string>();
        if (missing.Count > 0)
        {
            parts.Add($"{missing.Count} missing key(s): {Few(missing)}");
        }
        if (unexpected.Count > 0)
        {
            parts.Add($"{unexpected.Count} unexpected key(s): {Few(unexpected)}");
        }
        if (parts.Count == 0)
        {
            for (int i = 0; i < expected.Count; i++)
            {
                if (expected[i].Name != actual[i].Name)
                {
                    parts.Add($"key {i} is '{actual[i].Name}', expected '{expected[i].Name}' (same keys, other order)");
                    break;
                }
            }
            var shapes = expected.Zip(actual)
                .Where(p => !p.First.Shape.SequenceEqual(p.Second.Shape))
                .Select(p => $"{p.First.Name} {TensorShapes.Format(p.Second.Shape)} (expected {TensorShapes.Format(p.First.Shape)})")
                .ToList();
            if (shapes.Count > 0)
            {
                parts.Add($"{shapes.Count} shape mismatch(es): {Few(shapes)}");
            }
        }
        return parts.Count == 0 ? null : string.Join("; ", parts);
    }

    private static string Few(IReadOnlyList<string> items) =>
        string.Join(", ", items.Take(3)) + (items.Count > 3 ? $", ... ({items.Count - 3} more)" : "");

    private static bool IsArchitectureFile(string file)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(file));
            JsonElement root = document.RootElement;
            return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("arch", out _)
                && root.TryGetProperty("filler", out _) && root.TryGetProperty("state_dict", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
