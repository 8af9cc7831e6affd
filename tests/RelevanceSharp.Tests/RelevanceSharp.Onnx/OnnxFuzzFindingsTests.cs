using RelevanceSharp.Fuzz;
using RelevanceSharp.Onnx;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>
/// Inputs the fuzzer's onnx harness found to let an error escape, minimized with afl-tmin and kept in
/// <c>FuzzFindings</c>: the harness now runs each without an error escaping.
/// </summary>
public sealed class OnnxFuzzFindingsTests
{
    private static string Folder => Path.Combine(TestPaths.RepositoryRoot, "tests", "RelevanceSharp.Tests", "RelevanceSharp.Onnx", "FuzzFindings");

    public static TheoryData<string> Findings() => new(Directory.GetFiles(Folder, "onnx-*.bin").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Findings))]
    public void TheHarnessRunsTheFinding(string file) => Harnesses.Run("onnx", File.ReadAllBytes(Path.Combine(Folder, file)));

    [Fact]
    public void AnEmptyTensorWithHugeDimensionsIsRefused()
    {
        // [3, 110, 7003, 0, 31, 0, 229498751, 8027] has no elements, but libtorch's strides for it overflow.
        var ex = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(File.ReadAllBytes(Path.Combine(Folder, "onnx-empty-tensor-huge-dims.bin")), "found.onnx"));
        Assert.Contains("too many elements", ex.Message);
    }

    [Fact]
    public void AFixedBatchWhoseOutputDoesNotStartWithItRunsOnlyThatBatch()
    {
        // The graph fixes a batch of 48 (its input is a vector) and broadcasts its output to (1, 2, 48): running it in
        // parts would cut the wrong dimension.
        using var scope = NewDisposeScope();
        using OnnxModel model = OnnxModel.Load(File.ReadAllBytes(Path.Combine(Folder, "onnx-fixed-batch-output-not-first.bin")), "found.onnx");
        Assert.Equal(48, model.BatchSize);
        Assert.Equal(new long[] { 1, 2, 48 }, model.OutputShape);
        var ex = Assert.Throws<ArgumentException>(() => model.forward(zeros(2)));
        Assert.Contains("cannot run in parts; give batches of 48 exactly", ex.Message);
    }
}
