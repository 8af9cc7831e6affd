using RelevanceSharp.Platform;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Vision.Models;

/// <summary>A named architecture of the model zoo.</summary>
/// <param name="Name">torchvision's name, e.g. <c>resnet50</c>.</param>
/// <param name="Description">A one-line description.</param>
/// <param name="Factory">Builds the network from the number of classes, the parameter type and the device.</param>
public sealed record ZooEntry(string Name, string Description, Func<long, ScalarType?, Device?, ZooModel> Factory)
{
    /// <summary>How torchvision prepares images for the architecture's published weights (ImageNet's 256/224 unless set).</summary>
    public ImageTransform Transform { get; init; } = ImageTransform.ImageNet();
}

/// <summary>
/// torchvision's DenseNet, ResNet, VGG and vision-transformer architectures by name. The networks have torchvision's state-dict keys,
/// so torchvision checkpoints load into them unchanged (see <see cref="IO.Checkpoint"/>).
/// </summary>
public static class ModelZoo
{
    // The CPU guard must be in force before this type runs its first convolution.
    static ModelZoo() => CpuGuard.Ensure();

    private static readonly ZooEntry[] Entries =
    {
        DenseNetEntry("densenet121", 32, new long[] { 6, 12, 24, 16 }, 64),
        DenseNetEntry("densenet161", 48, new long[] { 6, 12, 36, 24 }, 96),
        DenseNetEntry("densenet169", 32, new long[] { 6, 12, 32, 32 }, 64),
        DenseNetEntry("densenet201", 32, new long[] { 6, 12, 48, 32 }, 64),
        ResNetEntry("resnet18", "ResNet-18", ResNetBlockKind.Basic, new long[] { 2, 2, 2, 2 }),
        ResNetEntry("resnet34", "ResNet-34", ResNetBlockKind.Basic, new long[] { 3, 4, 6, 3 }),
        ResNetEntry("resnet50", "ResNet-50", ResNetBlockKind.Bottleneck, new long[] { 3, 4, 6, 3 }),
        ResNetEntry("resnet101", "ResNet-101", ResNetBlockKind.Bottleneck, new long[] { 3, 4, 23, 3 }),
        ResNetEntry("resnet152", "ResNet-152", ResNetBlockKind.Bottleneck, new long[] { 3, 8, 36, 3 }),
        ResNetEntry("resnext50_32x4d", "ResNeXt-50, 32 groups of width 4", ResNetBlockKind.Bottleneck, new long[] { 3, 4, 6, 3 }, 32, 4),
        ResNetEntry("resnext101_32x8d", "ResNeXt-101, 32 groups of width 8", ResNetBlockKind.Bottleneck, new long[] { 3, 4, 23, 3 }, 32, 8),
        ResNetEntry("resnext101_64x4d", "ResNeXt-101, 64 groups of width 4", ResNetBlockKind.Bottleneck, new long[] { 3, 4, 23, 3 }, 64, 4),
        ResNetEntry("wide_resnet50_2", "Wide ResNet-50-2 (bottlenecks twice as wide)", ResNetBlockKind.Bottleneck, new long[] { 3, 4, 6, 3 }, 1, 128),
        ResNetEntry("wide_resnet101_2", "Wide ResNet-101-2 (bottlenecks twice as wide)", ResNetBlockKind.Bottleneck, new long[] { 3, 4, 23, 3 }, 1, 128),
        VggEntry("vgg11", "A", 11, false),
        VggEntry("vgg11_bn", "A", 11, true),
        VggEntry("vgg13", "B", 13, false),
        VggEntry("vgg13_bn", "B", 13, true),
        VggEntry("vgg16", "D", 16, false),
        VggEntry("vgg16_bn", "D", 16, true),
        VggEntry("vgg19", "E", 19, false),
        VggEntry("vgg19_bn", "E", 19, true),
        VisionTransformerEntry("vit_b_16", "ViT-B/16"),
        VisionTransformerEntry("vit_b_32", "ViT-B/32"),
        VisionTransformerEntry("vit_l_16", "ViT-L/16"),
        VisionTransformerEntry("vit_l_32", "ViT-L/32"),
        VisionTransformerEntry("vit_h_14", "ViT-H/14"),
    };

    /// <summary>All architectures, in a stable order (DenseNets, ResNets, VGGs, vision transformers).</summary>
    public static IReadOnlyList<ZooEntry> All => Entries;

    /// <summary>The architecture names.</summary>
    public static IEnumerable<string> Names => Entries.Select(e => e.Name);

    /// <summary>Whether a name is known (case-insensitive).</summary>
    public static bool IsKnown(string name) => Find(name) is not null;

    /// <summary>
    /// Builds an architecture by name, in evaluation mode, with TorchSharp's default initialization (load weights
    /// with <see cref="IO.Checkpoint.Load"/>).
    /// </summary>
    /// <param name="name">A name of <see cref="Names"/>, e.g. <c>densenet121</c> (case-insensitive).</param>
    /// <param name="numClasses">Outputs of the classifier.</param>
    /// <param name="dtype">Parameter type, e.g. <see cref="ScalarType.Float64"/> (TorchSharp's default when <c>null</c>).</param>
    /// <param name="device">Device of the parameters (the CPU when <c>null</c>).</param>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the known names.</exception>
    public static ZooModel Create(string name, int numClasses = 1000, ScalarType? dtype = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ZooModel model = Get(name).Factory(numClasses, dtype, device);
        model.eval();
        return model;
    }

    /// <summary>The entry of a name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the known names.</exception>
    public static ZooEntry Get(string name) =>
        Find(name ?? throw new ArgumentNullException(nameof(name)))
        ?? throw new ArgumentException($"Unknown architecture '{name}'; known: {string.Join(", ", Names)}.", nameof(name));

    private static ZooEntry? Find(string name) =>
        Entries.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    private static ZooEntry DenseNetEntry(string name, long growthRate, long[] blocks, long initFeatures) => new(
        name,
        $"DenseNet-{name["densenet".Length..]}: growth rate {growthRate}, blocks {string.Join("-", blocks)}, {initFeatures} initial features",
        (classes, dtype, device) => new DenseNet(growthRate, blocks, initFeatures, numClasses: classes, dtype: dtype, device: device));

    private static ZooEntry ResNetEntry(string name, string title, ResNetBlockKind block, long[] layers, long groups = 1, long widthPerGroup = 64) => new(
        name,
        $"{title}: {block.ToString().ToLowerInvariant()} blocks {string.Join("-", layers)}",
        (classes, dtype, device) => new ResNet(block, layers, classes, groups, widthPerGroup, dtype, device));

    private static ZooEntry VisionTransformerEntry(string name, string title)
    {
        VisionTransformerOptions o = VisionTransformer.Variants[name];
        return new(
            name,
            $"{title}: {o.NumLayers} layers, {o.NumHeads} heads, width {o.HiddenDim}, MLP {o.MlpDim}; {o.PatchSize}-pixel patches of {o.ImageSize}-pixel images",
            (classes, dtype, device) => new VisionTransformer(o with { NumClasses = classes }, dtype, device))
        {
            Transform = VisionTransformer.DefaultTransform(name),
        };
    }

    private static ZooEntry VggEntry(string name, string configuration, int depth, bool batchNorm) => new(
        name,
        $"VGG-{depth} (configuration {configuration}){(batchNorm ? " with batch norm" : "")}",
        (classes, dtype, device) => new Vgg(Vgg.Configurations[configuration], batchNorm, classes, dtype: dtype, device: device));
}
