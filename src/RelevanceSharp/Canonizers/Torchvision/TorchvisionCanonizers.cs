using RelevanceSharp.Composites;

namespace RelevanceSharp.Canonizers.Torchvision;

/// <summary>
/// The canonizers of torchvision's model families, as zennit names them: each is a sequence of the general
/// canonizers, with the switches (<see cref="ISumSwitch"/>, <see cref="IHeadSwitch"/>) the model zoo's ResNets and
/// DenseNets implement, so that their residual sums and heads become modules rules can see.
/// </summary>
public static class TorchvisionCanonizers
{
    /// <summary><c>vgg</c>: the sequential batch-norm merge.</summary>
    [RegistryEntry(40)]
    public static CanonizerEntry Vgg { get; } =
        new("vgg", "VGG: sequential batch-norm merge.", () => new CompositeCanonizer("vgg", new SequentialMergeBatchNorm()));

    /// <summary><c>resnet</c>: the sequential batch-norm merge, and residual additions through their sum modules.</summary>
    [RegistryEntry(50)]
    public static CanonizerEntry ResNet { get; } =
        new("resnet", "ResNet: sequential batch-norm merge, residual additions through Sum modules.",
            () => new CompositeCanonizer("resnet", new SequentialMergeBatchNorm(), ResidualSums()));

    /// <summary><c>densenet_adaptive_avg_pool</c>: the head as explicit modules.</summary>
    [RegistryEntry(60)]
    public static CanonizerEntry DenseNetAdaptiveAvgPool { get; } =
        new("densenet_adaptive_avg_pool", "DenseNet: the final ReLU and adaptive average pool as explicit modules.", DenseNetHead);

    /// <summary><c>densenet_seq_thresh</c>: explicit head, sequential merge, then ThreshReLU merge.</summary>
    [RegistryEntry(70)]
    public static CanonizerEntry DenseNetSeqThresh { get; } =
        new("densenet_seq_thresh", "DenseNet: explicit head, then sequential merge, then ThreshReLU merge.",
            () => new CompositeCanonizer("densenet_seq_thresh", DenseNetHead(), new SequentialMergeBatchNorm(), new ThreshReLUMergeBatchNorm()));

    /// <summary><c>densenet_thresh_seq</c>: explicit head, ThreshReLU merge, then sequential merge.</summary>
    [RegistryEntry(80)]
    public static CanonizerEntry DenseNetThreshSeq { get; } =
        new("densenet_thresh_seq", "DenseNet: explicit head, then ThreshReLU merge, then sequential merge.",
            () => new CompositeCanonizer("densenet_thresh_seq", DenseNetHead(), new ThreshReLUMergeBatchNorm(), new SequentialMergeBatchNorm()));

    /// <summary>Routes every residual addition of the model zoo's ResNets through their <c>Sum</c> modules.</summary>
    public static ICanonizer ResidualSums() =>
        new SwitchCanonizer<ISumSwitch>("resnet_sum", block => block.UseSumModule, (block, value) => block.UseSumModule = value);

    /// <summary>Makes the final ReLU and adaptive average pool of the model zoo's DenseNets explicit modules.</summary>
    public static ICanonizer DenseNetHead() =>
        new SwitchCanonizer<IHeadSwitch>("densenet_adaptive_avg_pool", model => model.ExplicitHead, (model, value) => model.ExplicitHead = value);
}
