using System.Text.Json;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Models;

/// <summary>The reference data of one architecture in <c>fullsize/</c>.</summary>
internal sealed record FullsizeReference(string Arch, long Parameters, IReadOnlyList<(string Name, long[] Shape)> StateDict)
{
    public static IEnumerable<object[]> Names() =>
        Directory.GetFiles(TestPaths.ConformancePath("fullsize"), "*.json")
            .Select(f => new object[] { Path.GetFileNameWithoutExtension(f) })
            .OrderBy(n => (string)n[0], StringComparer.Ordinal);

    public static FullsizeReference Load(string name, string folder = "fullsize")
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(TestPaths.ConformancePath(folder, name + ".json")));
        JsonElement root = document.RootElement;
        return new FullsizeReference(
            root.GetProperty("arch").GetString()!,
            root.GetProperty("parameters").GetInt64(),
            root.GetProperty("state_dict").EnumerateArray()
                .Select(e => (e[0].GetString()!, e[1].EnumerateArray().Select(v => v.GetInt64()).ToArray()))
                .ToList());
    }
}

public class ModelZooTests
{
    public static IEnumerable<object[]> FullsizeNames() => FullsizeReference.Names();

    [Fact]
    public void TheConformanceDataHasTwentyOneArchitecturesAllInTheZoo()
    {
        var names = FullsizeNames().Select(n => (string)n[0]).ToList();

        Assert.Equal(21, names.Count);
        Assert.All(names, n => Assert.True(ModelZoo.IsKnown(n), n));
    }

    // Built on the meta device: shapes without memory, so every architecture is checked in the quick run.
    [Theory]
    [MemberData(nameof(FullsizeNames))]
    public void StateDictHasTorchvisionsKeysShapesAndOrder(string name)
    {
        FullsizeReference reference = FullsizeReference.Load(name);
        using ZooModel model = ModelZoo.Create(reference.Arch, dtype: ScalarType.Float64, device: META);

        var actual = model.state_dict().Select(e => (e.Key, e.Value.shape)).ToList();

        Assert.Equal(reference.StateDict.Select(e => e.Name), actual.Select(e => e.Key));
        Assert.Equal(reference.StateDict.Select(e => string.Join(",", e.Shape)), actual.Select(e => string.Join(",", e.shape)));
        Assert.Equal(reference.Parameters, model.ParameterCount);
    }

    // The counts the issue lists, from torchvision.
    [Theory]
    [InlineData("densenet121", 7_978_856)]
    [InlineData("densenet161", 28_681_000)]
    [InlineData("densenet169", 14_149_480)]
    [InlineData("densenet201", 20_013_928)]
    [InlineData("resnet18", 11_689_512)]
    [InlineData("resnet34", 21_797_672)]
    [InlineData("resnet50", 25_557_032)]
    [InlineData("resnet101", 44_549_160)]
    [InlineData("resnet152", 60_192_808)]
    [InlineData("resnext50_32x4d", 25_028_904)]
    [InlineData("wide_resnet50_2", 68_883_240)]
    [InlineData("vgg11", 132_863_336)]
    [InlineData("vgg16", 138_357_544)]
    [InlineData("vgg16_bn", 138_365_992)]
    [InlineData("vgg19_bn", 143_678_248)]
    [InlineData("vit_b_16", 86_567_656)]
    [InlineData("vit_b_32", 88_224_232)]
    [InlineData("vit_l_16", 304_326_632)]
    [InlineData("vit_l_32", 306_535_400)]
    [InlineData("vit_h_14", 632_045_800)]
    public void ParameterCountsAreTorchvisions(string name, long expected)
    {
        using ZooModel model = ModelZoo.Create(name, device: META);

        Assert.Equal(expected, model.ParameterCount);
    }

    [Fact]
    public void EveryEntryHasADescriptionAndBuildsWithOtherClassCounts()
    {
        foreach (ZooEntry entry in ModelZoo.All)
        {
            Assert.False(string.IsNullOrWhiteSpace(entry.Description), entry.Name);
            using ZooModel model = ModelZoo.Create(entry.Name, numClasses: 7, device: META);
            Tensor last = model.state_dict().Last().Value;
            Assert.Equal(new long[] { 7 }, last.shape);
            Assert.False(model.training);
        }
    }

    [Fact]
    public void BatchCountersStayInt64InFloat64Models()
    {
        using ZooModel model = ModelZoo.Create("resnet18", dtype: ScalarType.Float64, device: META);

        var state = model.state_dict();

        Assert.All(state.Where(e => e.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)), e => Assert.Equal(ScalarType.Int64, e.Value.dtype));
        Assert.All(state.Where(e => !e.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)), e => Assert.Equal(ScalarType.Float64, e.Value.dtype));
    }

    [Fact]
    public void NamesAreCaseInsensitiveAndUnknownNamesListTheKnownOnes()
    {
        using ZooModel model = ModelZoo.Create("ResNet18", device: META);
        Assert.IsType<ResNet>(model);

        var error = Assert.Throws<ArgumentException>(() => ModelZoo.Create("resnet19"));
        Assert.Contains("resnet19", error.Message, StringComparison.Ordinal);
        Assert.Contains("densenet121", error.Message, StringComparison.Ordinal);
        Assert.Contains("vgg19_bn", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NamedModulesArePreOrderAsInPyTorch()
    {
        using ZooModel model = ModelZoo.Create("densenet121", device: META);

        var names = model.named_modules().Select(e => e.name).Take(6).ToList();

        Assert.Equal(new[] { "features", "features.conv0", "features.norm0", "features.relu0", "features.pool0", "features.denseblock1" }, names);
        Assert.Equal(new[] { "head_relu", "head_pool", "classifier" }, model.named_modules().Select(e => e.name).TakeLast(3));
    }

    [Fact]
    public void CustomConfigurationsAreAccepted()
    {
        using var densenet = new DenseNet(growthRate: 12, blockConfig: new long[] { 3, 4 }, numInitFeatures: 24, bottleneckSize: 2, numClasses: 5, device: META);
        using var resnext = new ResNet(ResNetBlockKind.Bottleneck, new long[] { 1, 2, 1, 1 }, numClasses: 3, groups: 4, widthPerGroup: 8, device: META);
        using var vgg = new Vgg(new long[] { 16, Vgg.Pool, 32, Vgg.Pool }, batchNorm: true, numClasses: 4, device: META);

        // 24 + 3*12 = 60 -> transition to 30 -> 30 + 4*12 = 78 features.
        Assert.Equal(new long[] { 5, 78 }, densenet.Classifier.weight!.shape);
        // Layer 2 of block 1 sees 24 + 12 features and widens to a bottleneck of 2 * 12.
        Assert.Equal(new long[] { 24, 36, 1, 1 }, densenet.state_dict()["features.denseblock1.denselayer2.conv1.weight"].shape);
        // Bottleneck width = planes * 8 / 64 * 4 = planes / 2; layer2 has planes 128.
        Assert.Equal(new long[] { 64, 16, 3, 3 }, resnext.state_dict()["layer2.1.conv2.weight"].shape);
        Assert.Equal(5, resnext.Blocks.Count);
        Assert.Equal(new long[] { 4096, 32 * 7 * 7 }, vgg.state_dict()["classifier.0.weight"].shape);
        Assert.Equal(new long[] { 32 }, vgg.state_dict()["features.5.running_var"].shape);
    }

    [Fact]
    public void InvalidConfigurationsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new ResNet(ResNetBlockKind.Basic, new long[] { 2, 2, 2 }, device: META));
        Assert.Throws<ArgumentException>(() => new ResNet(ResNetBlockKind.Basic, new long[] { 2, 2, 2, 2 }, groups: 32, widthPerGroup: 4, device: META));
        Assert.Throws<ArgumentException>(() => new DenseNet(blockConfig: Array.Empty<long>(), device: META));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DenseNet(growthRate: 0, device: META));
        Assert.Throws<ArgumentException>(() => new Vgg(new long[] { Vgg.Pool }, batchNorm: false, device: META));
    }
}
