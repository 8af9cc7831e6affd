using System.Text.Json;
using RelevanceSharp.Conformance;
using RelevanceSharp.Vision.Models;

namespace RelevanceSharp.Tests.Models;

public class ZooConformanceTests
{
    [Theory]
    [InlineData("densenet_tiny", 11)]
    [InlineData("resnet_basic_tiny", 4)]
    public void EveryCaseWithoutCanonizersMatchesTheReference(string folder, int expectedCases)
    {
        string path = TestPaths.ConformancePath(folder);
        var names = WithoutCanonizers(path);

        var results = ConformanceRunner.RunCases(path, names).ToList();

        Assert.Equal(expectedCases, results.Count);
        // A pass includes the model output matching the reference.
        Assert.All(results, r => Assert.True(r.Status == CheckStatus.Passed, r.ToString()));
    }

    [Fact]
    public void ModelJsonBuildsTheZoosNetworks()
    {
        using var densenet = Architectures.Load(TestPaths.ConformancePath("densenet_tiny", "model.json"));
        using var resnet = Architectures.Load(TestPaths.ConformancePath("resnet_basic_tiny", "model.json"));

        var dense = Assert.IsType<DenseNet>(densenet);
        Assert.Equal(new long[] { 2, 2 }, dense.BlockConfig);
        Assert.Equal(8, dense.GrowthRate);
        Assert.Equal(10, dense.NumClasses);
        var res = Assert.IsType<ResNet>(resnet);
        Assert.Equal(ResNetBlockKind.Basic, res.Block);
        Assert.All(res.Layers, n => Assert.Equal(1, n));
        Assert.False(densenet.training);
    }

    [Fact]
    public void ModelJsonDefaultsAreTorchvisions()
    {
        using JsonDocument densenet = JsonDocument.Parse("""{"arch": "densenet"}""");
        using JsonDocument resnet = JsonDocument.Parse("""{"arch": "resnet", "block": "bottleneck", "layers": [3, 4, 6, 3], "groups": 32, "width_per_group": 4}""");
        using JsonDocument incomplete = JsonDocument.Parse("""{"arch": "resnet", "layers": [2, 2, 2, 2]}""");

        using var dense = Architectures.Build(densenet.RootElement);
        using var resnext = Architectures.Build(resnet.RootElement);

        Assert.Equal(7_978_856, ((ZooModel)dense).ParameterCount);
        Assert.Equal(25_028_904, ((ZooModel)resnext).ParameterCount);
        Assert.Throws<NotSupportedException>(() => Architectures.Build(incomplete.RootElement));
    }

    [Fact]
    public void VerifyRecognizesTheFullsizeAndPthFoldersWithoutRunningThem()
    {
        Assert.Equal(21, FullsizeChecks.ArchitectureFiles(TestPaths.ConformancePath("fullsize")).Length);
        Assert.NotNull(FullsizeChecks.TryRun(TestPaths.ConformancePath("fullsize")));
        Assert.Null(FullsizeChecks.TryRun(TestPaths.ConformancePath("pth")));
        Assert.Null(FullsizeChecks.TryRun(TestPaths.ConformancePath("densenet_tiny")));
        Assert.Contains((Func<string, IEnumerable<CheckResult>?>)FullsizeChecks.TryRun, ConformanceRunner.FolderChecks);
        Assert.Contains((Func<string, IEnumerable<CheckResult>?>)PthChecks.TryRun, ConformanceRunner.FolderChecks);
    }

    [Fact]
    public void KeyListsAreComparedInOrder()
    {
        var expected = new List<(string, long[])> { ("a.weight", new long[] { 2, 3 }), ("a.bias", new long[] { 2 }) };

        Assert.Null(FullsizeChecks.CompareKeys(expected, expected));
        Assert.Contains("other order", FullsizeChecks.CompareKeys(expected, expected.AsEnumerable().Reverse().ToList()), StringComparison.Ordinal);
        Assert.Contains("1 missing key(s): a.bias", FullsizeChecks.CompareKeys(expected, expected.Take(1).ToList()), StringComparison.Ordinal);
        Assert.Contains("shape mismatch", FullsizeChecks.CompareKeys(expected, new List<(string, long[])> { ("a.weight", new long[] { 3, 2 }), ("a.bias", new long[] { 2 }) }), StringComparison.Ordinal);
    }

    private static List<string> WithoutCanonizers(string folder)
    {
        using JsonDocument cases = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "cases.json")));
        return cases.RootElement.GetProperty("cases").EnumerateArray()
            .Where(c => c.GetProperty("canonizers").GetArrayLength() == 0)
            .Select(c => c.GetProperty("name").GetString()!)
            .ToList();
    }
}

public class FullsizeTests
{
    public static IEnumerable<object[]> Names() => FullsizeReference.Names();

    // Builds each architecture in float64 (VGG-19: 143 million parameters), fills it by hash-v1 and compares the
    // logits with the reference; the whole set takes minutes.
    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(Names))]
    public void ArchitectureMatchesTorchvision(string name)
    {
        CheckResult result = FullsizeChecks.Check(TestPaths.ConformancePath("fullsize", name + ".json"));

        Assert.True(result.Status == CheckStatus.Passed, result.ToString());
    }
}
