using System.Globalization;
using RelevanceSharp.Onnx.Operators;
using RelevanceSharp.Onnx.Protos;
using RelevanceSharp.Onnx.Reading;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Building;

/// <summary>
/// Turns a checked graph into modules and steps. The nodes the chosen output needs are visited in topological order;
/// each operator's converter (<see cref="OperatorTable"/>) adds module calls, folds constants, or names an input again.
/// Every module call runs once on a probe of the fixed input shape while it is added, so that every later node knows
/// its inputs' shapes, and a constant computed from shapes (<c>Shape</c> and what follows it) is folded on the spot.
/// </summary>
internal sealed class GraphBuilder : IDisposable
{
    private readonly ModelProto model;
    private readonly GraphCheck.Result graph;
    private readonly Dictionary<string, Value> values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> uses = new(StringComparer.Ordinal);
    private readonly HashSet<string> moduleNames = new(StringComparer.Ordinal);
    private readonly List<(string Name, nn.Module Module)> modules = new();
    private readonly List<Step> steps = new();
    private readonly List<OnnxNodeInfo> nodeInfos = new();
    private readonly Dictionary<string, List<NodeProto>> consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<NodeProto, string> fused = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Value, List<string>> names = new(ReferenceEqualityComparer.Instance);
    private string outputName = "";
    private readonly int opset;
    private int slots;
    private long probeBatch = 1;
    private bool built;

    public GraphBuilder(string source, ModelProto model, GraphCheck.Result graph, int opset, OnnxLimits limits, ScalarType floatType,
        bool openBatch, TensorReader tensors)
    {
        Source = source;
        this.model = model;
        this.graph = graph;
        this.opset = opset;
        Limits = limits;
        FloatType = floatType;
        OpenBatch = openBatch;
        Tensors = tensors;
    }

    public string Source { get; }

    public OnnxLimits Limits { get; }

    public ScalarType FloatType { get; }

    public bool OpenBatch { get; }

    /// <summary>Whether the build probes at batch 2 too (an open batch, and an operator whose result could depend on it).</summary>
    public bool BatchProbed { get; private set; }

    public TensorReader Tensors { get; }

    public RunState State { get; } = new();

    /// <summary>The modules in the order they were added.</summary>
    public IReadOnlyList<(string Name, nn.Module Module)> Modules => modules;

    /// <summary>The steps of the forward pass.</summary>
    public IReadOnlyList<Step> Steps => steps;

    /// <summary>What became of each node.</summary>
    public IReadOnlyList<OnnxNodeInfo> NodeInfos => nodeInfos;

    /// <summary>The number of run-time slots.</summary>
    public int SlotCount => slots;

    /// <summary>
    /// Builds what <paramref name="output"/> needs from the input <paramref name="input"/> of shape
    /// <paramref name="shape"/> (at batch 1, or at the fixed batch). Returns the output's slot.
    /// </summary>
    public int Build(string input, long[] shape, string output, bool channelsLast = false)
    {
        using var noGrad = no_grad();
        // Only the nodes the output depends on are built: an unsupported operator elsewhere does not matter.
        var needed = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<string>();
        pending.Push(output);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            string name = pending.Pop();
            if (!seen.Add(name) || !graph.Producers.TryGetValue(name, out NodeProto? producer) || !needed.Add(producer))
            {
                continue;
            }
            foreach (string i in producer.Input.Where(i => i.Length > 0))
            {
                pending.Push(i);
            }
        }
        outputName = output;
        uses[output] = 1;
        foreach (NodeProto node in graph.Nodes.Where(needed.Contains))
        {
            foreach (string i in node.Input.Where(i => i.Length > 0))
            {
                uses[i] = uses.GetValueOrDefault(i) + 1;
                if (!consumers.TryGetValue(i, out List<NodeProto>? list))
                {
                    consumers[i] = list = new List<NodeProto>();
                }
                list.Add(node);
            }
        }
        foreach (ValueInfoProto other in graph.Inputs)
        {
            if (other.Name != input && seen.Contains(other.Name))
            {
                throw Errors.File(Source, $"the output '{Errors.Clip(output)}' depends on the input '{Errors.Clip(other.Name)}' as well as on " +
                    $"'{Errors.Clip(input)}'; only one input can be explained (choose another output)");
            }
        }

        probeBatch = shape[0];
        Tensor probe = zeros(shape, FloatType);
        // Probing at batch 2 as well tells where the batch went; only these operators can make anything depend on it.
        BatchProbed = OpenBatch && needed.Any(n => n.OpType is "Shape" or "Squeeze" or "Split" or "Slice" or "Gather"
            || n.OpType is "Softmax" or "LogSoftmax" && opset < 13);
        Tensor? probe2 = BatchProbed ? zeros(new[] { 2L }.Concat(shape.Skip(1)).ToArray(), FloatType) : null;
        if (channelsLast)
        {
            // The model takes (N, C, ...) as every model here does; a first module moves the channels last for the graph.
            long[] permutation = [0, .. Enumerable.Range(2, shape.Length - 2).Select(d => (long)d), 1];
            long[] inverse = [0, shape.Length - 1, .. Enumerable.Range(1, shape.Length - 2).Select(d => (long)d)];
            var permute = new Modules.Permute(permutation);
            string name = ModuleName(new NodeProto { Name = input }, "channels_last");
            modules.Add((name, permute));
            int first = slots++;
            var step = new Step(name, input, permute, [first], slots++);
            steps.Add(step);
            using Tensor channelsFirst = probe.permute(inverse).contiguous();
            using Tensor? channelsFirst2 = probe2?.permute(inverse).contiguous();
            Tensor graphProbe = permute.forward(channelsFirst).contiguous();
            Tensor? graphProbe2 = channelsFirst2 is null ? null : permute.forward(channelsFirst2).contiguous();
            probe.Dispose();
            probe2?.Dispose();
            Name(input, Value.Computed(input, step.Output, graphProbe, graphProbe2, null));
        }
        else
        {
            Name(input, Value.Computed(input, slots++, probe, probe2, null));
        }

        foreach (NodeProto node in graph.Nodes.Where(needed.Contains))
        {
            Visit(node);
        }
        Value result = Lookup(output, null);
        if (result.IsConstant)
        {
            throw Errors.File(Source, $"the output '{Errors.Clip(output)}' does not depend on the input '{Errors.Clip(input)}'");
        }
        built = true;
        return result.Slot;
    }

    private void Visit(NodeProto node)
    {
        if (fused.TryGetValue(node, out string? into))
        {
            Name(node.Output[0], Value.Alias(node.Output[0], values[into], node));
            nodeInfos.Add(new OnnxNodeInfo(NodeName(node), node.OpType, node.Input.ToArray(), node.Output.ToArray(),
                [values[into].Shape], [], "fused"));
            Consumed(node);
            return;
        }
        if (node.Domain is not ("" or "ai.onnx"))
        {
            throw Errors.Node(Source, node, $"operators of the domain '{Errors.Clip(node.Domain)}' are not supported (only the standard ONNX operators are)");
        }
        if (!OperatorTable.TryGet(node.OpType, opset, out int version, out Action<NodeContext>? convert))
        {
            throw Errors.Node(Source, node, OperatorTable.IsKnown(node.OpType)
                ? $"the operator {node.OpType} is not defined at operator set version {opset}"
                : $"the operator {node.OpType} is not supported (supported: {string.Join(", ", OperatorTable.Names)})");
        }
        Value?[] inputs = node.Input.Select(i => i.Length == 0 ? null : Lookup(i, node)).ToArray();
        var context = new NodeContext(this, node, version, inputs);
        int before = modules.Count;
        try
        {
            convert!(context);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or InvalidOperationException
            or System.Runtime.InteropServices.ExternalException or IndexOutOfRangeException)
        {
            throw Errors.Node(Source, node, $"it cannot be computed on the fixed input shape: {OneLine(ex.Message)}", ex);
        }
        foreach (string output in node.Output)
        {
            if (output.Length > 0 && uses.ContainsKey(output) && !values.ContainsKey(output))
            {
                throw Errors.Node(Source, node, $"its output '{Errors.Clip(output)}' is not produced by the importer");
            }
        }
        var outputs = node.Output.Where(o => o.Length > 0 && values.ContainsKey(o)).ToArray();
        string status = modules.Count > before ? "module" : outputs.All(o => values[o].IsConstant) ? "constant" : "alias";
        nodeInfos.Add(new OnnxNodeInfo(
            NodeName(node), node.OpType, node.Input.ToArray(), node.Output.ToArray(),
            outputs.Select(o => values[o].Shape).ToArray(),
            modules.Skip(before).Select(m => m.Name).ToArray(), status));
        Consumed(node);
    }

    private void Consumed(NodeProto node)
    {
        // Probes no later node reads are released as soon as possible (a full-size model holds many).
        foreach (string i in node.Input.Where(i => i.Length > 0))
        {
            if (uses.TryGetValue(i, out int count))
            {
                uses[i] = --count;
                if (count == 0 && values.TryGetValue(i, out Value? done) && !done.IsConstant
                    && names.TryGetValue(done.Root, out List<string>? same) && same.All(n => uses.GetValueOrDefault(n) == 0))
                {
                    // An alias (Identity, a fused bias) shares its target's probe: release it when no name of it is read.
                    done.Root.ReleaseProbes();
                }
            }
        }
    }

    private static string OneLine(string text)
    {
        string line = text.ReplaceLineEndings(" ").Trim();
        int cut = line.IndexOf(" Exception raised from", StringComparison.Ordinal);
        return cut > 0 ? line[..cut] : line;
    }

    private Value Lookup(string name, NodeProto? node)
    {
        if (values.TryGetValue(name, out Value? value))
        {
            return value;
        }
        if (graph.Initializers.TryGetValue(name, out TensorProto? initializer))
        {
            Tensor tensor = Tensors.Read(initializer, $"initializer '{Errors.Clip(name)}'");
            if (tensor.is_floating_point() && tensor.dtype != FloatType)
            {
                Tensor converted = tensor.to(FloatType);
                tensor.Dispose();
                tensor = converted;
            }
            value = Value.Const(name, tensor);
            values[name] = value;
            return value;
        }
        throw node is null
            ? Errors.File(Source, $"the value '{Errors.Clip(name)}' is not computed")
            : Errors.Node(Source, node, $"its input '{Errors.Clip(name)}' is not computed (it comes from a graph input other than the one explained)");
    }

    /// <summary>The shape of a built value (at batch 1, or at the fixed batch).</summary>
    public long[] ShapeOf(string name) => values[name].Shape;

    /// <summary>How many built nodes read a value that are still to come, the model's output counting as one.</summary>
    public int Uses(string name) => uses.GetValueOrDefault(name);

    public Tensor? TakeFollowingBias(NodeContext context, int index, long features)
    {
        if (index >= context.Node.Output.Count)
        {
            return null;
        }
        string name = context.Node.Output[index];
        if (name.Length == 0 || name == outputName || uses.GetValueOrDefault(name) != 1
            || !consumers.TryGetValue(name, out List<NodeProto>? readers) || readers.Count != 1)
        {
            return null;
        }
        NodeProto add = readers[0];
        if (add.OpType != "Add" || add.Domain is not ("" or "ai.onnx") || add.Input.Count != 2 || add.Attribute.Count > 0
            || add.Output.Count != 1 || add.Input[0] == add.Input[1])
        {
            return null;
        }
        string other = add.Input[0] == name ? add.Input[1] : add.Input[0];
        Value? constant = values.TryGetValue(other, out Value? known) ? known
            : graph.Initializers.ContainsKey(other) ? Lookup(other, add) : null;
        if (constant is not { IsConstant: true, DependsOnBatch: false } || !constant.Constant!.is_floating_point()
            || constant.Constant.numel() != features || constant.Rank > context.Input(0).Rank
            || constant.Shape.Length > 0 && constant.Shape[^1] != features)
        {
            return null;
        }
        fused[add] = name;
        return constant.Constant.reshape(features).to(FloatType);
    }

    /// <summary>Whether any built node (or the output) reads a value.</summary>
    public bool IsUsed(string name) => uses.GetValueOrDefault(name) > 0;

    public Value AddModule(NodeContext context, nn.Module module, string? role, Value[] args)
    {
        if (args.All(a => a.IsConstant))
        {
            try
            {
                return Fold(context, xs => new Step("fold", "fold", module, Enumerable.Range(0, xs.Length).ToArray(), 0).Run(xs, plain: true), args);
            }
            finally
            {
                module.Dispose();
            }
        }
        if (args.Any(a => a.IsConstant))
        {
            module.Dispose();
            throw new InvalidOperationException("a module was given constant and computed inputs together");
        }
        string name = ModuleName(context.Node, role);
        modules.Add((name, module));
        if (module is nn.Module<Tensor, Tensor> or nn.Module<Tensor, Tensor, Tensor> or nn.Module<Tensor[], Tensor>)
        {
            module.eval();
        }
        var step = new Step(name, NodeName(context.Node), module, args.Select(a => a.Slot).ToArray(), slots++);
        Tensor first = Probe(context, step, probeBatch,
            args.Select(a => a.Probe ?? throw new InvalidOperationException($"the probe of '{a.Name}' was released early")).ToArray());
        Tensor? second = BatchProbed ? Probe(context, step, 2, args.Select(a => a.ProbeAtBatch2!).ToArray()) : null;
        steps.Add(step);
        return Value.Computed(name, step.Output, first, second, context.Node);
    }

    private Tensor Probe(NodeContext context, Step step, long batch, Tensor[] args)
    {
        State.Batch = batch;
        Tensor result = step.Run(args, plain: true);
        if (result.numel() > Limits.MaxValueElements)
        {
            throw context.Fail($"its result has {result.numel():N0} elements, more than the limit of {Limits.MaxValueElements:N0}");
        }
        // A module may return its input (an in-place operation): the probe must be a value of its own.
        return args.Any(a => ReferenceEquals(a, result) || a.Handle == result.Handle) ? result.clone() : result;
    }

    public Value Fold(NodeContext context, Func<Tensor[], Tensor> compute, Value[] args)
    {
        if (args.Any(a => !a.IsConstant))
        {
            throw context.Fail("it is only supported on constants (values known when the model is loaded), and an input is computed from the model's input");
        }
        Tensor first = compute(args.Select(a => a.Constant!).ToArray());
        Tensor? second = args.Any(a => a.DependsOnBatch) ? compute(args.Select(a => a.ConstantAtBatch2 ?? a.Constant!).ToArray()) : null;
        return MakeConstant(context, first, second);
    }

    public Value MakeConstant(NodeContext context, Tensor value, Tensor? atBatch2)
    {
        long bytes = checked(value.numel() * value.ElementSize);
        if (bytes > Limits.MaxTensorBytes)
        {
            throw context.Fail($"it computes a constant of {bytes:N0} bytes, more than the limit of {Limits.MaxTensorBytes:N0}");
        }
        Tensors.Account(bytes, $"node {Errors.Describe(context.Node)}");
        // A constant that aliases another (a reshape of an initializer) gets storage of its own.
        return Value.Const(context.Node.Output.FirstOrDefault() ?? "", value.is_contiguous() ? value.clone() : value.contiguous(),
            atBatch2?.contiguous().clone(), context.Node);
    }

    public void SetOutput(NodeContext context, int index, Value value)
    {
        if (index >= context.Node.Output.Count)
        {
            return;
        }
        string name = context.Node.Output[index];
        if (name.Length > 0)
        {
            Name(name, value);
        }
    }

    public void SetAlias(NodeContext context, int index, Value value)
    {
        if (index < context.Node.Output.Count && context.Node.Output[index].Length > 0)
        {
            Name(context.Node.Output[index], Value.Alias(context.Node.Output[index], value, context.Node));
        }
    }

    private void Name(string name, Value value)
    {
        values[name] = value;
        if (!names.TryGetValue(value.Root, out List<string>? list))
        {
            names[value.Root] = list = new List<string>();
        }
        list.Add(name);
    }

    /// <summary>A node's name, or its first output's name when it has none.</summary>
    public static string NodeName(NodeProto node) =>
        node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault(o => o.Length > 0) ?? node.OpType;

    private string ModuleName(NodeProto node, string? role)
    {
        string baseName = NodeName(node);
        if (role is not null)
        {
            baseName += "/" + role;
        }
        // TorchSharp joins the names of nested modules with dots; a dot inside a name would read as nesting.
        baseName = baseName.Replace('.', '_');
        if (baseName.Length == 0)
        {
            baseName = "node";
        }
        string name = baseName;
        for (int i = 2; !moduleNames.Add(name); i++)
        {
            name = baseName + "#" + i.ToString(CultureInfo.InvariantCulture);
        }
        return name;
    }

    /// <summary>Hands the modules over: after this, disposing the builder no longer disposes them.</summary>
    public void Release() => built = true;

    public void Dispose()
    {
        foreach (Value value in values.Values)
        {
            value.Release();
        }
        values.Clear();
        if (!built)
        {
            foreach (var (_, module) in modules)
            {
                module.Dispose();
            }
        }
    }
}
