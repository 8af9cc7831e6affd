namespace RelevanceSharp.Onnx;

/// <summary>What the importer made of one ONNX node (for listing a model, e.g. <c>relevance inspect</c>).</summary>
/// <param name="Name">The node's name, or its first output's name when it has none.</param>
/// <param name="Operator">The operator (<c>Conv</c>, <c>Add</c>, ...).</param>
/// <param name="Inputs">The names of the values it reads (empty for an omitted optional input).</param>
/// <param name="Outputs">The names of the values it writes.</param>
/// <param name="Shapes">The shapes of its outputs on the fixed input shape (at batch 1 when the batch is open).</param>
/// <param name="Modules">The names of the modules it became, in the order they run; empty when it was folded.</param>
/// <param name="Kind">
/// <c>module</c> (computed by <see cref="Modules"/>), <c>constant</c> (computed once at load time: a shape, a
/// constant, anything that does not depend on the input's values) or <c>alias</c> (another name for its input:
/// <c>Identity</c>, <c>Dropout</c>, a cast within the model's float type).
/// </param>
public sealed record OnnxNodeInfo(string Name, string Operator, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyList<long[]> Shapes, IReadOnlyList<string> Modules, string Kind);
