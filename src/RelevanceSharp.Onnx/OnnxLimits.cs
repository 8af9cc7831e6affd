namespace RelevanceSharp.Onnx;

/// <summary>
/// Bounds on what an ONNX file may make the importer read or allocate. Every size in a file is checked against them in
/// 64-bit arithmetic before anything is allocated, so that a damaged or hostile file is refused with one message
/// instead of exhausting memory. The defaults admit every torchvision classifier and more.
/// </summary>
public sealed record OnnxLimits
{
    /// <summary>The largest model file: 2 GiB, the most a protobuf message can hold.</summary>
    public long MaxFileBytes { get; init; } = 2L << 30;

    /// <summary>The largest single tensor, in bytes, whether stored in the file, beside it, or computed at load time.</summary>
    public long MaxTensorBytes { get; init; } = 2L << 30;

    /// <summary>All constants together (initializers, external data and folded values), in bytes.</summary>
    public long MaxTotalConstantBytes { get; init; } = 8L << 30;

    /// <summary>The most elements a value computed while the model runs may have (checked on the fixed input shape).</summary>
    public long MaxValueElements { get; init; } = 1L << 28;

    /// <summary>The most nodes in the graph.</summary>
    public int MaxNodes { get; init; } = 100_000;

    /// <summary>The most initializers, graph inputs, outputs and value descriptions, each.</summary>
    public int MaxValues { get; init; } = 1_000_000;

    /// <summary>The most inputs or outputs of one node, and attributes of one node.</summary>
    public int MaxNodeArity { get; init; } = 10_000;

    /// <summary>The most numbers in one attribute list (<c>ints</c>, <c>floats</c>).</summary>
    public int MaxAttributeElements { get; init; } = 1_000_000;

    /// <summary>The longest name of a node, value or attribute, in characters.</summary>
    public int MaxNameLength { get; init; } = 4096;

    /// <summary>The most dimensions of a tensor.</summary>
    public int MaxRank { get; init; } = 8;

    /// <summary>The defaults.</summary>
    public static OnnxLimits Default { get; } = new();
}
