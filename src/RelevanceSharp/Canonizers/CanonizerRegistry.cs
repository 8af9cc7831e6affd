namespace RelevanceSharp.Canonizers;

/// <summary>A named canonizer.</summary>
public sealed record CanonizerEntry(string Name, string Description, Func<ICanonizer> Create);

/// <summary>The named canonizers.</summary>
public static class CanonizerRegistry
{
    private static readonly List<CanonizerEntry> Entries = new()
    {
        new("sequential_merge_batch_norm", "Merge each batch norm into the linear layer or convolution before it.",
            () => new SequentialMergeBatchNorm()),
        new("merge_batch_norm_to_right", "Merge each batch norm into the linear layers or convolutions after it.",
            () => new MergeBatchNormToRight()),
        new("thresh_relu_merge_batch_norm", "Batch norm -> ReLU -> (average pool ->) layer becomes ThreshReLU -> merged layer.",
            () => new ThreshReLUMergeBatchNorm()),
        new("vgg", "VGG: sequential batch-norm merge.", () => new CompositeCanonizer("vgg", new SequentialMergeBatchNorm())),
    };

    /// <summary>All named canonizers.</summary>
    public static IReadOnlyList<CanonizerEntry> All => Entries;

    /// <summary>The registry names.</summary>
    public static IEnumerable<string> Names => Entries.Select(e => e.Name);

    /// <summary>Whether a name is known.</summary>
    public static bool IsKnown(string name) => Entries.Any(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Creates a canonizer by name.</summary>
    public static ICanonizer Create(string name) =>
        (Entries.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase))
         ?? throw new ArgumentException($"Unknown canonizer '{name}'; known canonizers: {(Entries.Count == 0 ? "(none)" : string.Join(", ", Names))}."))
        .Create();
}
