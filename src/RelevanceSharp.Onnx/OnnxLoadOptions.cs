namespace RelevanceSharp.Onnx;

/// <summary>How <c>OnnxModel.Load</c> reads a model.</summary>
public sealed record OnnxLoadOptions
{
    /// <summary>
    /// The graph input to explain; needed when the graph has several (the message lists them). Graph inputs that an
    /// initializer gives a value to are constants, not inputs.
    /// </summary>
    public string? Input { get; init; }

    /// <summary>
    /// The value the model returns: one of the graph's outputs (needed when it has several), or any value a node
    /// computes, for example the logits before a final <c>Softmax</c>. Only the nodes it depends on are built.
    /// </summary>
    public string? Output { get; init; }

    /// <summary>
    /// The input's shape without the batch dimension, e.g. <c>[3, 224, 224]</c>. Needed where the graph leaves a
    /// dimension open (a symbolic height or width); where the graph fixes a dimension, a different size is refused.
    /// The model is built for this shape: shapes computed inside the graph are folded for it.
    /// </summary>
    public long[]? InputShape { get; init; }

    /// <summary>
    /// Whether the graph's input has its channels last, <c>(N, H, W, C)</c>, as Keras and TensorFlow models exported with
    /// tf2onnx have. The model then takes <c>(N, C, H, W)</c> like every other RelevanceSharp model, and a first module,
    /// <c>INPUT/channels_last</c>, moves the channels last (relevance passes it unchanged); <see cref="InputShape"/>
    /// is given channels first too. <see cref="OnnxModel.LooksChannelsLast"/> tells whether an input looks so.
    /// </summary>
    public bool ChannelsLast { get; init; }

    /// <summary>The bounds on what the file may make the importer read or allocate.</summary>
    public OnnxLimits Limits { get; init; } = OnnxLimits.Default;
}

/// <summary>A graph input or output as the file declares it.</summary>
/// <param name="Name">The value's name.</param>
/// <param name="ElementType">ONNX's name of its element type (<c>float</c>, <c>double</c>, <c>int64</c>, ...), or <c>?</c>.</param>
/// <param name="Dimensions">Each dimension: a number, a symbolic name, or <c>?</c> for unknown; <c>null</c> when the file gives no shape.</param>
public sealed record OnnxValueInfo(string Name, string ElementType, IReadOnlyList<string>? Dimensions)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Name} ({ElementType}{(Dimensions is null ? "" : " [" + string.Join(", ", Dimensions) + "]")})";
}

/// <summary>The interface of an ONNX file (<see cref="OnnxModel.ReadInterface"/>).</summary>
/// <param name="Inputs">The graph's inputs (those that are not constants).</param>
/// <param name="Outputs">The graph's outputs.</param>
/// <param name="Opset">The version of the standard operator set.</param>
/// <param name="Producer">The program that wrote the file, as the file says.</param>
/// <param name="BeforeSoftmax">
/// For each output computed by a final <c>Softmax</c> or <c>LogSoftmax</c>, the value it normalizes (the logits).
/// </param>
public sealed record OnnxInterface(IReadOnlyList<OnnxValueInfo> Inputs, IReadOnlyList<OnnxValueInfo> Outputs, int Opset, string Producer,
    IReadOnlyDictionary<string, string> BeforeSoftmax);
