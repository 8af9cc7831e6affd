using RelevanceSharp.Onnx.Protos;

namespace RelevanceSharp.Onnx.Reading;

/// <summary>
/// The structural checks of a graph before anything is built: sizes within the limits, every value defined exactly
/// once (graph input, initializer or node output), every value a node or the graph reads defined somewhere, no
/// cycle. Gives the nodes in an order where each comes after the producers of its inputs.
/// </summary>
internal static class GraphCheck
{
    /// <summary>The checked graph.</summary>
    public sealed record Result(
        IReadOnlyList<NodeProto> Nodes,
        IReadOnlyDictionary<string, NodeProto> Producers,
        IReadOnlyList<ValueInfoProto> Inputs,
        IReadOnlyDictionary<string, TensorProto> Initializers);

    public static Result Run(GraphProto graph, string source, OnnxLimits limits)
    {
        if (graph.Node.Count > limits.MaxNodes)
        {
            throw Errors.File(source, $"its graph has {graph.Node.Count:N0} nodes, more than the limit of {limits.MaxNodes:N0}");
        }
        foreach (var (count, what) in new[] { (graph.Initializer.Count, "initializers"), (graph.Input.Count, "inputs"),
                     (graph.Output.Count, "outputs"), (graph.ValueInfo.Count, "value descriptions") })
        {
            if (count > limits.MaxValues)
            {
                throw Errors.File(source, $"its graph has {count:N0} {what}, more than the limit of {limits.MaxValues:N0}");
            }
        }
        if (graph.SparseInitializer.Count > 0)
        {
            throw Errors.File(source, "its graph has sparse initializers, which are not supported");
        }
        void CheckName(string name, string what)
        {
            if (name.Length > limits.MaxNameLength)
            {
                throw Errors.File(source, $"{what} has a name of {name.Length:N0} characters, more than {limits.MaxNameLength:N0}");
            }
        }

        // Every value is defined once: initializers, graph inputs (an input may share its name with an initializer,
        // which then only gives its default), node outputs.
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (TensorProto initializer in graph.Initializer)
        {
            CheckName(initializer.Name, "an initializer");
            if (initializer.Name.Length == 0)
            {
                throw Errors.File(source, "an initializer has no name");
            }
            if (!initializers.TryAdd(initializer.Name, initializer))
            {
                throw Errors.File(source, $"the initializer '{Errors.Clip(initializer.Name)}' is defined twice");
            }
        }
        var defined = new HashSet<string>(initializers.Keys, StringComparer.Ordinal);
        var inputs = new List<ValueInfoProto>();
        var inputNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (ValueInfoProto input in graph.Input)
        {
            CheckName(input.Name, "a graph input");
            if (input.Name.Length == 0 || !inputNames.Add(input.Name))
            {
                throw Errors.File(source, $"the graph input '{Errors.Clip(input.Name)}' is unnamed or listed twice");
            }
            if (!initializers.ContainsKey(input.Name))
            {
                inputs.Add(input);
                defined.Add(input.Name);
            }
        }
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (NodeProto node in graph.Node)
        {
            CheckName(node.Name, "a node");
            CheckName(node.OpType, "an operator");
            CheckName(node.Domain, "an operator domain");
            if (node.Input.Count > limits.MaxNodeArity || node.Output.Count > limits.MaxNodeArity || node.Attribute.Count > limits.MaxNodeArity)
            {
                throw Errors.Node(source, node, "it has too many inputs, outputs or attributes");
            }
            foreach (string name in node.Input)
            {
                CheckName(name, $"an input of node {Errors.Describe(node)}");
            }
            foreach (string output in node.Output)
            {
                CheckName(output, $"an output of node {Errors.Describe(node)}");
                if (output.Length == 0)
                {
                    continue;
                }
                if (defined.Contains(output) || producers.ContainsKey(output))
                {
                    throw Errors.Node(source, node, $"its output '{Errors.Clip(output)}' is already defined by another node, an input or an initializer");
                }
                producers[output] = node;
            }
        }

        // Topological order (Kahn), starting from the file's order, which ONNX requires to be topological already.
        var indegree = new Dictionary<NodeProto, int>(ReferenceEqualityComparer.Instance);
        var consumers = new Dictionary<NodeProto, List<NodeProto>>(ReferenceEqualityComparer.Instance);
        foreach (NodeProto node in graph.Node)
        {
            int count = 0;
            foreach (string input in node.Input.Where(i => i.Length > 0).Distinct(StringComparer.Ordinal))
            {
                if (producers.TryGetValue(input, out NodeProto? producer))
                {
                    count++;
                    if (!consumers.TryGetValue(producer, out List<NodeProto>? list))
                    {
                        consumers[producer] = list = new List<NodeProto>();
                    }
                    list.Add(node);
                }
                else if (!defined.Contains(input))
                {
                    throw Errors.Node(source, node, $"its input '{Errors.Clip(input)}' is not defined by any node, input or initializer");
                }
            }
            indegree[node] = count;
        }
        var order = new List<NodeProto>(graph.Node.Count);
        var ready = new Queue<NodeProto>(graph.Node.Where(n => indegree[n] == 0));
        while (ready.Count > 0)
        {
            NodeProto node = ready.Dequeue();
            order.Add(node);
            if (consumers.TryGetValue(node, out List<NodeProto>? next))
            {
                foreach (NodeProto consumer in next)
                {
                    if (--indegree[consumer] == 0)
                    {
                        ready.Enqueue(consumer);
                    }
                }
            }
        }
        if (order.Count < graph.Node.Count)
        {
            NodeProto stuck = graph.Node.First(n => indegree[n] > 0);
            throw Errors.Node(source, stuck, "it is part of a cycle (its input depends on its own output)");
        }
        var outputNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (ValueInfoProto output in graph.Output)
        {
            CheckName(output.Name, "a graph output");
            if (output.Name.Length == 0 || !outputNames.Add(output.Name))
            {
                throw Errors.File(source, $"the graph output '{Errors.Clip(output.Name)}' is unnamed or listed twice");
            }
            if (!defined.Contains(output.Name) && !producers.ContainsKey(output.Name))
            {
                throw Errors.File(source, $"the graph output '{Errors.Clip(output.Name)}' is not computed by any node");
            }
        }
        if (graph.Output.Count == 0)
        {
            throw Errors.File(source, "its graph has no outputs");
        }
        return new Result(order, producers, inputs, initializers);
    }
}
