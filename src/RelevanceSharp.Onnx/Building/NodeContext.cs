using System.Text;
using RelevanceSharp.Onnx.Protos;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Building;

/// <summary>
/// What an operator's converter sees of one node: its inputs as <see cref="Value"/>s, its attributes (checked against
/// what the operator defines at this version), and the ways to produce its outputs: a module call, a constant, or
/// another name for an input.
/// </summary>
internal sealed class NodeContext
{
    private readonly GraphBuilder builder;
    private readonly Dictionary<string, AttributeProto> attributes = new(StringComparer.Ordinal);
    private readonly Value?[] inputs;
    private int modules;

    public NodeContext(GraphBuilder builder, NodeProto node, int version, Value?[] inputs)
    {
        this.builder = builder;
        Node = node;
        Version = version;
        this.inputs = inputs;
        foreach (AttributeProto attribute in node.Attribute)
        {
            if (attribute.Name.Length == 0 || !attributes.TryAdd(attribute.Name, attribute))
            {
                throw Fail($"the attribute '{Errors.Clip(attribute.Name)}' is unnamed or given twice");
            }
            if (attribute.HasRefAttrName)
            {
                throw Fail($"the attribute '{Errors.Clip(attribute.Name)}' refers to a function's attribute, which only functions may do");
            }
        }
    }

    /// <summary>The node.</summary>
    public NodeProto Node { get; }

    /// <summary>The version of the operator's definition in force (the newest at or below the model's opset).</summary>
    public int Version { get; }

    /// <summary>The float type of the model's parameters and computed values.</summary>
    public ScalarType FloatType => builder.FloatType;

    /// <summary>The limits in force.</summary>
    public OnnxLimits Limits => builder.Limits;

    /// <summary>The state the model's modules share at run time (the batch size).</summary>
    public RunState State => builder.State;

    /// <summary>Whether the batch size is left open and the build probes at batch 1 and 2.</summary>
    public bool OpenBatch => builder.BatchProbed;

    /// <summary>The number of inputs the node lists (omitted optional ones included).</summary>
    public int InputCount => inputs.Length;

    /// <summary>The number of outputs the node lists.</summary>
    public int OutputCount => Node.Output.Count;

    /// <summary>A refusal naming the node and its operator.</summary>
    public InvalidDataException Fail(string problem) => Errors.Node(builder.Source, Node, problem);

    // ---- Attributes ----

    /// <summary>Refuses every attribute the node has that is not among <paramref name="known"/>.</summary>
    public void Attributes(params string[] known)
    {
        foreach (string name in attributes.Keys)
        {
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                throw Fail($"the attribute '{Errors.Clip(name)}' is not supported for {Node.OpType} at operator set version {Version} " +
                    (known.Length == 0 ? "(it takes none)" : $"(known: {string.Join(", ", known)})"));
            }
        }
    }

    /// <summary>Whether the node has the attribute.</summary>
    public bool Has(string name) => attributes.ContainsKey(name);

    /// <summary>An integer attribute.</summary>
    public long Int(string name, long fallback) => attributes.TryGetValue(name, out AttributeProto? a) ? IntOf(a) : fallback;

    /// <summary>An integer attribute that must be given.</summary>
    public long Int(string name) => attributes.TryGetValue(name, out AttributeProto? a) ? IntOf(a) : throw Fail($"the attribute '{name}' is missing");

    /// <summary>A float attribute.</summary>
    public double Float(string name, double fallback)
    {
        if (!attributes.TryGetValue(name, out AttributeProto? a))
        {
            return fallback;
        }
        Expect(a, 1, a.HasF);
        return a.F;
    }

    /// <summary>A string attribute.</summary>
    public string String(string name, string fallback)
    {
        if (!attributes.TryGetValue(name, out AttributeProto? a))
        {
            return fallback;
        }
        Expect(a, 3, a.HasS);
        return Encoding.UTF8.GetString(a.S.Span);
    }

    /// <summary>An integer list attribute, or <c>null</c>.</summary>
    public long[]? Ints(string name)
    {
        if (!attributes.TryGetValue(name, out AttributeProto? a))
        {
            return null;
        }
        Expect(a, 7, a.Ints.Count > 0);
        CheckCount(a, a.Ints.Count);
        return a.Ints.ToArray();
    }

    /// <summary>A float list attribute, or <c>null</c>.</summary>
    public float[]? Floats(string name)
    {
        if (!attributes.TryGetValue(name, out AttributeProto? a))
        {
            return null;
        }
        Expect(a, 6, a.Floats.Count > 0);
        CheckCount(a, a.Floats.Count);
        return a.Floats.ToArray();
    }

    /// <summary>A tensor attribute read into a tensor, or <c>null</c>.</summary>
    public Tensor? TensorAttribute(string name)
    {
        if (!attributes.TryGetValue(name, out AttributeProto? a))
        {
            return null;
        }
        Expect(a, 4, a.T is not null);
        return builder.Tensors.Read(a.T!, $"node {Errors.Describe(Node)}: attribute '{name}'");
    }

    private long IntOf(AttributeProto a)
    {
        Expect(a, 2, a.HasI);
        return a.I;
    }

    private void CheckCount(AttributeProto a, int count)
    {
        if (count > builder.Limits.MaxAttributeElements)
        {
            throw Fail($"the attribute '{Errors.Clip(a.Name)}' has {count:N0} values, more than the limit of {builder.Limits.MaxAttributeElements:N0}");
        }
    }

    private void Expect(AttributeProto a, int type, bool present)
    {
        // Files written before the type field existed leave it 0 and set only the value.
        if (a.HasType && a.Type != 0 ? a.Type != type : !present)
        {
            string[] names = { "undefined", "float", "int", "string", "tensor", "graph", "floats", "ints", "strings", "tensors", "graphs" };
            string expected = type < names.Length ? names[type] : type.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string actual = a.HasType && a.Type >= 0 && a.Type < names.Length ? names[a.Type] : "another kind";
            throw Fail($"the attribute '{Errors.Clip(a.Name)}' must be of type {expected}, not {actual}");
        }
    }

    // ---- Inputs ----

    /// <summary>Input <paramref name="index"/>, or <c>null</c> when the node omits it.</summary>
    public Value? Optional(int index) => index < inputs.Length ? inputs[index] : null;

    /// <summary>Input <paramref name="index"/>, which the operator requires.</summary>
    public Value Input(int index) => Optional(index) ?? throw Fail($"its input {index + 1} is missing");

    /// <summary>
    /// Input <paramref name="index"/> as a constant, refused when it is computed from the model's input, or when it
    /// depends on the batch size (then the model is built again for a fixed batch).
    /// </summary>
    public Tensor Constant(int index, string what)
    {
        Value value = Input(index);
        if (!value.IsConstant)
        {
            throw Fail($"its {what} (input '{Errors.Clip(value.Name)}') is computed from the model's input; only a constant {what} is supported");
        }
        if (value.DependsOnBatch)
        {
            throw new BatchDependenceException(Fail($"its {what} depends on the batch size"));
        }
        return value.Constant!;
    }

    /// <summary>A constant input as integers (axes, sizes, pads).</summary>
    public long[] ConstantInts(int index, string what)
    {
        Tensor value = Constant(index, what);
        if (value.is_floating_point() || value.dim() > 1)
        {
            throw Fail($"its {what} must be a list of integers");
        }
        CheckElements(value.numel(), what);
        return value.to(ScalarType.Int64).data<long>().ToArray();
    }

    /// <summary>A constant scalar input as a double (bounds of Clip, a pad value).</summary>
    public double ConstantScalar(int index, string what)
    {
        Tensor value = Constant(index, what);
        if (value.numel() != 1)
        {
            throw Fail($"its {what} must hold one value, not {value.numel()}");
        }
        return value.to(ScalarType.Float64).item<double>();
    }

    private void CheckElements(long count, string what)
    {
        if (count > builder.Limits.MaxAttributeElements)
        {
            throw Fail($"its {what} has {count:N0} values, more than the limit of {builder.Limits.MaxAttributeElements:N0}");
        }
    }

    /// <summary>Refuses the node when output <paramref name="index"/> is used: the importer does not compute it.</summary>
    public void Unused(int index, string what)
    {
        if (index < Node.Output.Count && Node.Output[index].Length > 0 && builder.IsUsed(Node.Output[index]))
        {
            throw Fail($"its output {index + 1} ({what}) is used by the graph, which is not supported");
        }
    }

    // ---- Outputs ----

    /// <summary>
    /// Adds a module call reading <paramref name="args"/> (all computed from the input, or all constants: then the module
    /// runs once now and the result is a constant) and returns its result. <paramref name="role"/> tells apart the
    /// modules of a node that needs several ("pad", "neg"); the first module of a node without a role is named after it.
    /// </summary>
    public Value Module(nn.Module module, string? role, params Value[] args)
    {
        modules++;
        return builder.AddModule(this, module, role, args);
    }

    /// <summary>Computes a constant from constant inputs with <paramref name="compute"/>, at both probed batches.</summary>
    public Value Fold(Func<Tensor[], Tensor> compute, params Value[] args) => builder.Fold(this, compute, args);

    /// <summary>A constant made by the converter.</summary>
    public Value Const(Tensor value, Tensor? atBatch2 = null) => builder.MakeConstant(this, value, atBatch2);

    /// <summary>Sets output <paramref name="index"/>.</summary>
    public void Output(int index, Value value) => builder.SetOutput(this, index, value);

    /// <summary>Makes output <paramref name="index"/> another name for <paramref name="value"/>.</summary>
    public void Alias(int index, Value value) => builder.SetAlias(this, index, value);

    /// <summary>How many modules the node has added so far.</summary>
    public int ModuleCount => modules;

    /// <summary>Whether any built node (or the model's output) reads output <paramref name="index"/>.</summary>
    public bool OutputUsed(int index) => index < Node.Output.Count && builder.IsUsed(Node.Output[index]);

    /// <summary>How many built nodes read input <paramref name="index"/> of this node (the model's output counts as one).</summary>
    public int InputUses(int index) => index < Node.Input.Count ? builder.Uses(Node.Input[index]) : 0;

    /// <summary>
    /// When output <paramref name="index"/> is read only by an <c>Add</c> of a constant that adds one value per feature
    /// along the last dimension (<paramref name="features"/> of them), takes that constant as this node's bias and makes
    /// the <c>Add</c> another name for this node's output; else <c>null</c>.
    /// </summary>
    public Tensor? TakeFollowingBias(int index, long features) => builder.TakeFollowingBias(this, index, features);
}

/// <summary>Thrown while building when an operator would need a constant that depends on the batch size.</summary>
internal sealed class BatchDependenceException : Exception
{
    public BatchDependenceException(InvalidDataException reason) : base(reason.Message, reason)
    {
    }
}

/// <summary>What the imported model's modules share at run time.</summary>
public sealed class RunState
{
    /// <summary>The batch size of the current forward pass.</summary>
    public long Batch { get; internal set; } = 1;
}
