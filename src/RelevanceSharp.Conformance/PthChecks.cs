using System.Globalization;
using System.Text.Json;
using RelevanceSharp.Vision.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Conformance;

/// <summary>
/// Checks loading PyTorch checkpoints against the <c>pth</c> reference folder: every <c>.pth</c>/<c>.pt</c> file
/// is loaded (strictly) into the model of the folder's <c>model.json</c>, in float32, and must reproduce the logits
/// of <c>expected.json</c> (<c>input</c> flattened with <c>input_shape</c>, and <c>output</c>).
/// </summary>
public static class PthChecks
{
    /// <summary>Logits pass when <c>max|actual - expected| &lt;= RelativeTolerance * max|expected|</c>.</summary>
    public const double RelativeTolerance = 1e-5;

    /// <summary>
    /// One check per checkpoint of a folder with <c>model.json</c>, <c>expected.json</c> and checkpoint files, in
    /// name order; <c>null</c> for any other folder (for <see cref="ConformanceRunner.FolderChecks"/>).
    /// </summary>
    public static IEnumerable<CheckResult>? TryRun(string folder)
    {
        if (File.Exists(Path.Combine(folder, "cases.json")) || !File.Exists(Path.Combine(folder, "model.json"))
            || !File.Exists(Path.Combine(folder, "expected.json")))
        {
            return null;
        }
        string[] checkpoints = Checkpoints(folder);
        return checkpoints.Length == 0 ? null : checkpoints.Select(file => Check(folder, file));
    }

    /// <summary>The checkpoint files of a folder, in name order.</summary>
    public static string[] Checkpoints(string folder) =>
        Directory.GetFiles(folder)
            .Where(f => f.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".pt", StringComparison.OrdinalIgnoreCase))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToArray();

    /// <summary>Loads one checkpoint into the folder's model and compares the logits; never throws for a bad file.</summary>
    public static CheckResult Check(string folder, string checkpoint)
    {
        string label = $"{Path.GetFileName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar))}/{Path.GetFileName(checkpoint)}";
        try
        {
            using var scope = NewDisposeScope();
            using JsonDocument reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected.json")));
            JsonElement root = reference.RootElement;
            float[] inputValues = root.GetProperty("input").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            long[] inputShape = root.GetProperty("input_shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
            double[] logits = root.GetProperty("output").EnumerateArray().Select(v => v.GetDouble()).ToArray();

            using nn.Module<Tensor, Tensor> model = Architectures.Load(Path.Combine(folder, "model.json"));
            CheckpointReport report = Checkpoint.Load(model, checkpoint);
            double error, allowed;
            using (no_grad())
            {
                Tensor output = model.call(tensor(inputValues, inputShape, ScalarType.Float32)).flatten();
                Tensor expected = tensor(logits, dtype: ScalarType.Float64);
                error = ConformanceRunner.MaxAbsDifference(output, expected);
                allowed = RelativeTolerance * expected.abs().max().item<double>();
            }
            string detail = string.Create(CultureInfo.InvariantCulture, $"{report.Count} tensors")
                + (report.Notes.Count > 0 ? "; " + string.Join(" ", report.Notes) : "");
            return new CheckResult(label, error <= allowed ? CheckStatus.Passed : CheckStatus.Failed, error, allowed, detail);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new CheckResult(label, CheckStatus.Failed, double.NaN, double.NaN, $"{ex.GetType().Name}: {ex.Message.Split('\n')[0]}");
        }
    }
}
