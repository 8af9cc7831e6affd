using System.Collections;
using System.Text.Json;
using RelevanceSharp.Conformance;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.IO;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Models;

public sealed class CheckpointTests : IDisposable
{
    private static readonly string PthFolder = TestPaths.ConformancePath("pth");
    private static readonly string PlainFile = Path.Combine(PthFolder, "densenet_tiny.pth");
    private readonly string temporary = Path.Combine(Path.GetTempPath(), "relevance-checkpoints-" + Guid.NewGuid().ToString("N"));
    private readonly DisposeScope scope = NewDisposeScope();

    public CheckpointTests()
    {
        Directory.CreateDirectory(temporary);
    }

    public void Dispose()
    {
        scope.Dispose();
        Directory.Delete(temporary, recursive: true);
    }

    [Theory]
    [InlineData("densenet_tiny.pth")]
    [InlineData("densenet_tiny_legacy_keys.pth")]
    public void ConformanceCheckpointsReproduceTheReferenceLogits(string file)
    {
        nn.Module<Tensor, Tensor> model = TinyDenseNet();

        CheckpointReport report = Checkpoint.Load(model, Path.Combine(PthFolder, file));

        Assert.Equal(CheckpointFormat.PyTorch, report.Format);
        Assert.Equal(67, report.Count);
        AssertReferenceLogits(model);
    }

    [Fact]
    public void LegacyDenseNetKeysAreRenamedAndTheReportSaysSo()
    {
        CheckpointReport plain = Checkpoint.Load(TinyDenseNet(), PlainFile);
        CheckpointReport legacy = Checkpoint.Load(TinyDenseNet(), Path.Combine(PthFolder, "densenet_tiny_legacy_keys.pth"));

        Assert.Empty(plain.Notes);
        Assert.Contains(legacy.Notes, n => n.Contains("48 legacy DenseNet key(s)", StringComparison.Ordinal));
    }

    [Fact]
    public void TheFolderCheckGivesOnePassingLinePerCheckpoint()
    {
        var results = PthChecks.TryRun(PthFolder)!.ToList();

        Assert.Equal(new[] { "pth/densenet_tiny.pth", "pth/densenet_tiny_legacy_keys.pth" }, results.Select(r => r.Name));
        Assert.All(results, r => Assert.Equal(CheckStatus.Passed, r.Status));
        Assert.Null(PthChecks.TryRun(TestPaths.ConformancePath("densenet_tiny")));
        Assert.Null(PthChecks.TryRun(TestPaths.ConformancePath("fullsize")));
    }

    [Fact]
    public void MissingUnexpectedAndMisshapenKeysAreReportedTogetherByName()
    {
        Hashtable state = Original();
        state.Remove("classifier.bias");
        state["features.extra.weight"] = zeros(3);
        state["classifier.weight"] = zeros(10, 31);
        string path = Save(state);
        nn.Module<Tensor, Tensor> model = TinyDenseNet();
        Tensor before = model.state_dict()["classifier.weight"].clone();

        var error = Assert.Throws<StateDictMismatchException>(() => Checkpoint.Load(model, path));

        Assert.Equal(new[] { "classifier.bias" }, error.Missing);
        Assert.Equal(new[] { "features.extra.weight" }, error.Unexpected);
        Assert.Single(error.ShapeMismatches);
        Assert.StartsWith("classifier.weight", error.ShapeMismatches[0], StringComparison.Ordinal);
        foreach (string name in new[] { "classifier.bias", "features.extra.weight", "classifier.weight" })
        {
            Assert.Contains(name, error.Message, StringComparison.Ordinal);
        }
        // Nothing was copied.
        Assert.True(before.eq(model.state_dict()["classifier.weight"]).all().item<bool>());
    }

    [Fact]
    public void NonStrictLoadingAcceptsMissingAndUnexpectedKeysButNotShapes()
    {
        Hashtable state = Original();
        state.Remove("classifier.bias");
        state["extra"] = zeros(3);

        Checkpoint.Load(TinyDenseNet(), Save(state), strict: false);
        Assert.Throws<StateDictMismatchException>(() => Checkpoint.Load(TinyDenseNet(), Save(state)));

        state["classifier.weight"] = zeros(10, 31);
        var error = Assert.Throws<StateDictMismatchException>(() => Checkpoint.Load(TinyDenseNet(), Save(state), strict: false));
        Assert.Empty(error.Missing);
        Assert.Single(error.ShapeMismatches);
    }

    [Theory]
    [InlineData("state_dict")]
    [InlineData("model")]
    public void StateDictsWrappedByTrainingScriptsAreUnwrapped(string key)
    {
        var wrapped = new Hashtable { [key] = Original(), ["epoch"] = 12, ["optimizer"] = new Hashtable { ["lr"] = 0.1 } };
        nn.Module<Tensor, Tensor> model = TinyDenseNet();

        CheckpointReport report = Checkpoint.Load(model, Save(wrapped));

        string note = Assert.Single(report.Notes);
        Assert.Contains($"'{key}'", note, StringComparison.Ordinal);
        Assert.Contains("'epoch', 'optimizer'", note, StringComparison.Ordinal);
        AssertReferenceLogits(model);
    }

    [Fact]
    public void DataParallelPrefixesAreRemovedAndTheReportSaysSo()
    {
        var prefixed = new Hashtable();
        foreach (DictionaryEntry entry in Original())
        {
            prefixed["module." + entry.Key] = entry.Value;
        }
        nn.Module<Tensor, Tensor> model = TinyDenseNet();

        CheckpointReport report = Checkpoint.Load(model, Save(prefixed));

        Assert.Contains(report.Notes, n => n.Contains("'module.'", StringComparison.Ordinal) && n.Contains("DataParallel", StringComparison.Ordinal));
        AssertReferenceLogits(model);
    }

    [Fact]
    public void APrefixOnSomeKeysOnlyIsLeftAloneAndReported()
    {
        Hashtable state = Original();
        state["module.classifier.bias"] = state["classifier.bias"];
        state.Remove("classifier.bias");

        var error = Assert.Throws<StateDictMismatchException>(() => Checkpoint.Load(TinyDenseNet(), Save(state)));

        Assert.Equal(new[] { "module.classifier.bias" }, error.Unexpected);
        Assert.Equal(new[] { "classifier.bias" }, error.Missing);
    }

    [Fact]
    public void AFileWithoutAStateDictIsRefusedWithWhatItHolds()
    {
        var training = new Hashtable { ["epoch"] = 3, ["optimizer"] = new Hashtable { ["lr"] = 0.1 }, ["weights"] = Original() };

        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(TinyDenseNet(), Save(training)));

        Assert.Contains("'epoch', 'optimizer', 'weights'", error.Message, StringComparison.Ordinal);
        Assert.Contains("expected a state dict", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TensorsMixedWithOtherEntriesAreRefused()
    {
        Hashtable state = Original();
        state["epoch"] = 3;

        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(TinyDenseNet(), Save(state)));

        Assert.Contains("'epoch'", error.Message, StringComparison.Ordinal);
        Assert.Contains("67 tensor(s)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AWrapperThatHoldsNoTensorsIsRefused()
    {
        var wrapped = new Hashtable { ["state_dict"] = new Hashtable { ["step"] = 5 }, ["epoch"] = 3 };

        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(TinyDenseNet(), Save(wrapped)));

        Assert.Contains("'state_dict'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'step'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FilesThatAreNoCheckpointsAreRefused()
    {
        string garbage = Path.Combine(temporary, "garbage.pth");
        File.WriteAllBytes(garbage, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 });
        string legacy = Path.Combine(temporary, "legacy.pth");
        File.WriteAllBytes(legacy, new byte[] { 0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20 });

        Assert.Contains("neither", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(TinyDenseNet(), garbage)).Message, StringComparison.Ordinal);
        Assert.Contains("legacy", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(TinyDenseNet(), legacy)).Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(TinyDenseNet(), Path.Combine(temporary, "absent.pth")));
    }

    [Fact]
    public void Float32WeightsGoIntoAFloat64ModelOnlyOnRequest()
    {
        nn.Module<Tensor, Tensor> model = TinyDenseNet();
        model.to(ScalarType.Float64);

        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(model, PlainFile));
        Assert.Contains("precision", error.Message, StringComparison.Ordinal);

        Checkpoint.Load(model, PlainFile, convertDtype: true);
        Assert.Equal(ScalarType.Float64, model.state_dict()["classifier.weight"].dtype);
        AssertReferenceLogits(model);
    }

    [Fact]
    public void SafetensorsFilesLoadTheSameWay()
    {
        var tensors = Original().Cast<DictionaryEntry>().ToDictionary(e => "module." + (string)e.Key, e => (Tensor)e.Value!);
        string path = Path.Combine(temporary, "weights.safetensors");
        SafeTensors.Save(path, tensors);
        nn.Module<Tensor, Tensor> model = TinyDenseNet();

        CheckpointReport report = Checkpoint.Load(model, path);

        Assert.Equal(CheckpointFormat.SafeTensors, report.Format);
        Assert.Single(report.Notes);
        AssertReferenceLogits(model);
    }

    [Fact]
    public void LegacyKeysAreRenamedOnlyWhereTheModelHasTheNewName()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["features.denseblock1.denselayer12.norm.1.weight"] = zeros(1),
            ["features.denseblock1.denselayer12.conv.2.weight"] = zeros(1),
            ["block.denselayer1.norm.1.weight"] = zeros(1),
            ["classifier.weight"] = zeros(1),
        };
        var modelKeys = new HashSet<string>
        {
            "features.denseblock1.denselayer12.norm1.weight", "features.denseblock1.denselayer12.conv2.weight",
            "block.denselayer1.norm.1.weight", "classifier.weight",
        };

        int renamed = Checkpoint.RenameLegacyDenseNetKeys(tensors, modelKeys);

        Assert.Equal(2, renamed);
        Assert.Equal(modelKeys.Order(), tensors.Keys.Order());
    }

    private static nn.Module<Tensor, Tensor> TinyDenseNet() => Architectures.Load(Path.Combine(PthFolder, "model.json"));

    private static Hashtable Original() => PyTorchUnpickler.UnpickleStateDict(PlainFile);

    private string Save(Hashtable contents)
    {
        string path = Path.Combine(temporary, Guid.NewGuid().ToString("N") + ".pth");
        PyTorchPickler.PickleStateDict(path, contents);
        return path;
    }

    // The logits of expected.json, within 1e-5 of their largest magnitude.
    private static void AssertReferenceLogits(nn.Module<Tensor, Tensor> model)
    {
        using JsonDocument reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(PthFolder, "expected.json")));
        JsonElement root = reference.RootElement;
        float[] input = root.GetProperty("input").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        long[] shape = root.GetProperty("input_shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        double[] expected = root.GetProperty("output").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        ScalarType dtype = model.state_dict()["classifier.weight"].dtype;
        using var noGrad = no_grad();

        double[] actual = model.call(tensor(input, shape).to(dtype)).flatten().to(ScalarType.Float64).data<double>().ToArray();

        double allowed = 1e-5 * expected.Max(Math.Abs);
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(expected.Zip(actual), p => Assert.InRange(Math.Abs(p.First - p.Second), 0, allowed));
    }
}
