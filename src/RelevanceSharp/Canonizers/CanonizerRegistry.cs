using RelevanceSharp.Composites;
using RelevanceSharp.Layers;

namespace RelevanceSharp.Canonizers;

/// <summary>A named canonizer.</summary>
public sealed record CanonizerEntry(string Name, string Description, Func<ICanonizer> Create);

/// <summary>The named canonizers.</summary>
public static class CanonizerRegistry
{
    private static readonly NamedRegistry<CanonizerEntry> Registry = new("canonizer", e => e.Name,
    [
        new("sequential_merge_batch_norm", "Merge each batch norm into the linear layer or convolution before it.",
            () => new SequentialMergeBatchNorm()),
        new("merge_batch_norm_to_right", "Merge each batch norm into the linear layers or convolutions after it.",
            () => new MergeBatchNormToRight()),
        new("thresh_relu_merge_batch_norm", "Batch norm -> ReLU -> (average pool ->) layer becomes ThreshReLU -> merged layer.",
            () => new ThreshReLUMergeBatchNorm()),
        new("vgg", "VGG: sequential batch-norm merge.", () => new CompositeCanonizer("vgg", new SequentialMergeBatchNorm())),
        new("resnet", "ResNet: sequential batch-norm merge, residual additions through Sum modules.",
            () => new CompositeCanonizer("resnet", new SequentialMergeBatchNorm(), ResidualSums())),
        new("densenet_adaptive_avg_pool", "DenseNet: the final ReLU and adaptive average pool as explicit modules.",
            DenseNetHead),
        new("densenet_seq_thresh", "DenseNet: explicit head, then sequential merge, then ThreshReLU merge.",
            () => new CompositeCanonizer("densenet_seq_thresh", DenseNetHead(), new SequentialMergeBatchNorm(), new ThreshReLUMergeBatchNorm())),
        new("densenet_thresh_seq", "DenseNet: explicit head, then ThreshReLU merge, then sequential merge.",
            () => new CompositeCanonizer("densenet_thresh_seq", DenseNetHead(), new ThreshReLUMergeBatchNorm(), new SequentialMergeBatchNorm())),
    ]);

    /// <summary>Routes every residual addition of the model zoo's ResNets through their <c>Sum</c> modules.</summary>
    public static ICanonizer ResidualSums() =>
        new SwitchCanonizer<ISumSwitch>("resnet_sum", block => block.UseSumModule, (block, value) => block.UseSumModule = value);

    /// <summary>Makes the final ReLU and adaptive average pool of the model zoo's DenseNets explicit modules.</summary>
    public static ICanonizer DenseNetHead() =>
        new SwitchCanonizer<IHeadSwitch>("densenet_adaptive_avg_pool", model => model.ExplicitHead, (model, value) => model.ExplicitHead = value);

    /// <summary>All named canonizers: the built-in ones, then those registered, in order.</summary>
    public static IReadOnlyList<CanonizerEntry> All => Registry.All;

    /// <summary>The registry names.</summary>
    public static IEnumerable<string> Names => Registry.Names;

    /// <summary>Whether a name is known.</summary>
    public static bool IsKnown(string name) => Registry.Find(name) is not null;

    /// <summary>Creates a canonizer by name.</summary>
    public static ICanonizer Create(string name) => Registry.Get(name).Create();

    /// <summary>
    /// Adds a canonizer under a new name, so that <see cref="Create"/>, <c>relevance explain --canonizer</c> and
    /// <c>relevance evaluate --config</c> know it. <paramref name="entry"/>'s factory makes a fresh canonizer per use.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, has characters other than letters, digits and
    /// underscores, or is taken.</exception>
    public static void Register(CanonizerEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Registry.Register(entry);
    }
}
