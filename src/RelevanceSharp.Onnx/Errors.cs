using RelevanceSharp.Onnx.Protos;

namespace RelevanceSharp.Onnx;

/// <summary>The one-line refusals of the importer; each names the file and, where there is one, the node.</summary>
internal static class Errors
{
    /// <summary>A problem with the file as a whole.</summary>
    public static InvalidDataException File(string source, string problem) => new($"{source}: {problem}.");

    /// <summary>A problem with one node: its name, its operator and what is missing or wrong.</summary>
    public static InvalidDataException Node(string source, NodeProto node, string problem, Exception? inner = null) =>
        new($"{source}: node {Describe(node)}: {problem}.", inner);

    /// <summary>A node as messages name it: <c>'name' (Conv)</c>, or by its first output when it has no name.</summary>
    public static string Describe(NodeProto node)
    {
        string name = node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault(o => o.Length > 0) is { } output ? $"-> {output}" : "(unnamed)";
        string op = node.Domain is "" or "ai.onnx" ? node.OpType : $"{node.Domain}.{node.OpType}";
        return $"'{Clip(name)}' ({Clip(op)})";
    }

    /// <summary>A name from the file, shortened for a message.</summary>
    public static string Clip(string text)
    {
        string flat = new(text.Select(c => char.IsControl(c) ? ' ' : c).ToArray());
        return flat.Length <= 120 ? flat : string.Concat(flat.AsSpan(0, 117), "...");
    }
}
