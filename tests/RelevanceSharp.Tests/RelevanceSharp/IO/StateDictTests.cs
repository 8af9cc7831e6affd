using RelevanceSharp.IO;
using RelevanceSharp.Tests.Engine;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.IO;

/// <summary>Loading weights written to a temporary safetensors file into the batch-norm conv net.</summary>
public sealed class StateDictTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("relevancesharp-statedict-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>The state dict of another instance (different values), changed by <paramref name="edit"/>, saved and read back.</summary>
    private (string Path, Dictionary<string, Tensor> Tensors) WriteWeights(Action<Dictionary<string, Tensor>> edit)
    {
        Sequential source = TestNets.ConvBatchNormNet(111);
        var tensors = source.state_dict().ToDictionary(e => e.Key, e => e.Value.detach().clone());
        edit(tensors);
        string path = Path.Combine(directory, $"weights-{Guid.NewGuid():N}.safetensors");
        SafeTensors.Save(path, tensors);
        return (path, SafeTensors.Load(path));
    }

    private static void AssertRejected(Action<Dictionary<string, Tensor>> edit, StateDictTests owner, Action<StateDictMismatchException> check)
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvBatchNormNet(112);
        var snapshot = ModelSnapshot.Take(model);
        var (path, tensors) = owner.WriteWeights(edit);
        var ex = Assert.Throws<StateDictMismatchException>(() => StateDict.Load(model, tensors, path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        check(ex);
        // Nothing was copied: every problem is found before the first value is written.
        snapshot.AssertUnchanged(model, "after a refused weights file");
    }

    [Fact]
    public void LoadsEveryParameterAndBufferInPlace()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvBatchNormNet(113);
        var before = ModelSnapshot.Take(model);
        var (path, tensors) = WriteWeights(_ => { });
        StateDict.Load(model, tensors, path);
        foreach (var (name, value) in tensors)
        {
            Tensor target = model.state_dict()[name];
            Assert.True(ReferenceEquals(before[name], target), $"{name} was replaced instead of filled in place");
            Assert.Equal(ModelSnapshot.Bits(value), ModelSnapshot.Bits(target));
        }
        Assert.Equal(7.0, ((BatchNorm2d)model[1]).num_batches_tracked!.to(ScalarType.Float64).item<double>());
    }

    [Fact]
    public void MissingKeysAreNamed() => AssertRejected(t =>
    {
        t.Remove("7.bias");
        t.Remove("1.running_var");
    }, this, ex =>
    {
        Assert.Equal(new[] { "1.running_var", "7.bias" }, ex.Missing.OrderBy(k => k, StringComparer.Ordinal));
        Assert.Empty(ex.Unexpected);
        Assert.Contains("2 missing key(s)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("7.bias", ex.Message, StringComparison.Ordinal);
        Assert.Contains("1.running_var", ex.Message, StringComparison.Ordinal);
    });

    [Fact]
    public void ExtraKeysAreNamed() => AssertRejected(t => t["classifier.weight"] = zeros(3, 16, dtype: ScalarType.Float64), this, ex =>
    {
        Assert.Equal(new[] { "classifier.weight" }, ex.Unexpected);
        Assert.Empty(ex.Missing);
        Assert.Contains("unexpected key(s): classifier.weight", ex.Message, StringComparison.Ordinal);
    });

    [Fact]
    public void MissingAndExtraKeysAreReportedTogether() => AssertRejected(t =>
    {
        t["features.0.weight"] = t["0.weight"];
        t.Remove("0.weight");
    }, this, ex =>
    {
        Assert.Equal(new[] { "0.weight" }, ex.Missing);
        Assert.Equal(new[] { "features.0.weight" }, ex.Unexpected);
    });

    [Fact]
    public void ShapeMismatchesNameBothShapes() => AssertRejected(t => t["7.weight"] = zeros(3, 17, dtype: ScalarType.Float64), this, ex =>
    {
        string mismatch = Assert.Single(ex.ShapeMismatches);
        Assert.Contains("7.weight", mismatch, StringComparison.Ordinal);
        Assert.Contains("[3, 17]", mismatch, StringComparison.Ordinal);
        Assert.Contains("[3, 16]", mismatch, StringComparison.Ordinal);
    });

    [Fact]
    public void AnotherPrecisionIsRefusedUnlessConversionIsAsked()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvBatchNormNet(114);
        var snapshot = ModelSnapshot.Take(model);
        var (path, tensors) = WriteWeights(t =>
        {
            foreach (string key in t.Keys.ToList())
            {
                if (t[key].is_floating_point())
                {
                    t[key] = t[key].to(ScalarType.Float32);
                }
            }
        });
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.Load(model, tensors, path));
        Assert.Contains("0.weight (Float32 in the file, Float64 in the model)", ex.Message, StringComparison.Ordinal);
        snapshot.AssertUnchanged(model, "after refusing float32 weights");

        StateDict.Load(model, tensors, path, convertDtype: true);
        Assert.Equal(ScalarType.Float64, ((Conv2d)model[0]).weight!.dtype);
        AssertClose(D(tensors["0.weight"]), ((Conv2d)model[0]).weight!, 0.0);
    }

    [Fact]
    public void LoadingSurvivesCollectionsOnAnotherThread()
    {
        // No dispose scope around the loads, as in a program that loads weights at startup: the load must keep every
        // tensor it makes alive while libtorch reads it. With the converted weight passed straight into copy_, a
        // collection on the other thread freed it during the copy and the process died within seconds.
        using Linear model = nn.Linear(1024, 1024, dtype: ScalarType.Float64);
        var tensors = new Dictionary<string, Tensor>
        {
            ["weight"] = randn(1024, 1024, dtype: ScalarType.Float64),
            ["bias"] = randn(1024, dtype: ScalarType.Float64),
        };
        using (GcStress.Start())
        {
            for (int i = 0; i < 2000; i++)
            {
                StateDict.Load(model, tensors, "memory");
            }
        }
        Assert.Equal(ModelSnapshot.Bits(tensors["weight"]), ModelSnapshot.Bits(model.weight!));
        Assert.Equal(ModelSnapshot.Bits(tensors["bias"]), ModelSnapshot.Bits(model.bias!));
        foreach (Tensor tensor in tensors.Values)
        {
            tensor.Dispose();
        }
    }
}
