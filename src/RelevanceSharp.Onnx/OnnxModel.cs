using System.Globalization;
using RelevanceSharp.Core;
using RelevanceSharp.Onnx.Building;
using RelevanceSharp.Onnx.Protos;
using RelevanceSharp.Onnx.Reading;
using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx;

/// <summary>
/// A model imported from an ONNX file: every node of the graph became a named leaf module (named after the node, or
/// after its first output when it has no name; a node that needs several modules names them <c>node/role</c>), the
/// initializers became their parameters and buffers, and the graph's dataflow is this module's forward. Composites,
/// name maps and canonizers apply to it as to a model written in C#: convolutions, dense layers and batch norms are
/// TorchSharp's own modules; sums and products of computed tensors are <see cref="Layers.Add"/>,
/// <see cref="Layers.Multiply"/> and <see cref="Layers.MatMul"/>.
/// <para>
/// The model is built for one input shape (from the graph, or <see cref="OnnxLoadOptions.InputShape"/>); shapes the
/// graph computes are folded for it. The batch is free when the graph leaves it open and nothing computed from it
/// needs a fixed value; otherwise it runs batches in parts of <see cref="BatchSize"/>.
/// </para>
/// </summary>
public sealed class OnnxModel : nn.Module<Tensor, Tensor>
{
    // The CPU guard must be in force before this type runs its first convolution.
    static OnnxModel() => CpuGuard.Ensure();

    private readonly List<Step> steps;
    private readonly int slotCount;
    private readonly int outputSlot;
    private readonly int[] lastUse;
    private readonly RunState state;
    private readonly Dictionary<string, int> plain = new(StringComparer.Ordinal);
    private readonly ScalarType builtType;

    private OnnxModel(string source, GraphBuilder builder, int outputSlot, ModelDescription description) : base("OnnxModel")
    {
        Source = source;
        steps = builder.Steps.ToList();
        slotCount = builder.SlotCount;
        this.outputSlot = outputSlot;
        state = builder.State;
        builtType = builder.FloatType;
        Description = description;
        Nodes = builder.NodeInfos.ToList();
        foreach (var (name, module) in builder.Modules)
        {
            register_module(name, module);
        }
        lastUse = new int[slotCount];
        Array.Fill(lastUse, -1);
        for (int i = 0; i < steps.Count; i++)
        {
            foreach (int slot in steps[i].Inputs)
            {
                lastUse[slot] = i;
            }
        }
        eval();
    }

    /// <summary>The file the model was read from.</summary>
    public string Source { get; }

    private ModelDescription Description { get; }

    /// <summary>The version of the standard operator set the file uses.</summary>
    public int Opset => Description.Opset;

    /// <summary>The program that wrote the file, with its version, as the file says.</summary>
    public string Producer => Description.Producer;

    /// <summary>The graph's inputs (those that are not constants).</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs => Description.Inputs;

    /// <summary>The graph's outputs.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs => Description.Outputs;

    /// <summary>The input this model reads.</summary>
    public string InputName => Description.InputName;

    /// <summary>The value this model returns.</summary>
    public string OutputName => Description.OutputName;

    /// <summary>The input's shape without the batch dimension.</summary>
    public IReadOnlyList<long> InputShape => Description.InputShape;

    /// <summary>
    /// The batch size the graph is fixed to, or <c>null</c> when it is open. A fixed-batch model still takes any batch
    /// (see <see cref="forward"/>), in parts of this size, when its output starts with the batch.
    /// </summary>
    public long? BatchSize => Description.BatchSize;

    /// <summary>
    /// The float type the model computes in: that of its parameters and buffers (float32 unless the graph's input is
    /// double, or the model was converted with <c>to</c>); its input must have this type. A model without any computes
    /// in the type of its input.
    /// </summary>
    public ScalarType FloatType => OwnFloatType ?? builtType;

    private ScalarType? OwnFloatType =>
        parameters().Concat(buffers()).Where(t => t.is_floating_point()).Select(t => (ScalarType?)t.dtype).FirstOrDefault();

    /// <summary>What the importer noted while building (e.g. why the batch size is fixed), one sentence each.</summary>
    public IReadOnlyList<string> Notes => Description.Notes;

    /// <summary>What became of each node the output depends on, in the order they run.</summary>
    public IReadOnlyList<OnnxNodeInfo> Nodes { get; }

    /// <summary>
    /// Reads an ONNX file and builds the model (on the CPU, in evaluation mode, in the float type of the graph's input:
    /// float32, or float64 for a double input; call <c>to</c> to change either). Every problem with the file is one
    /// <see cref="InvalidDataException"/> (or <see cref="FileNotFoundException"/>) whose message names the file and,
    /// for a node, the node, its operator and what is missing.
    /// </summary>
    public static OnnxModel Load(string path, OnnxLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new OnnxLoadOptions();
        ModelProto model = ModelFile.Read(path, options.Limits);
        return Build(model, path, options, fromFile: true);
    }

    /// <summary>Builds the model from the bytes of an ONNX file (external data is refused: there is no folder).</summary>
    public static OnnxModel Load(byte[] bytes, string source, OnnxLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        options ??= new OnnxLoadOptions();
        if (bytes.LongLength > options.Limits.MaxFileBytes)
        {
            throw Errors.File(source, $"it has {bytes.LongLength:N0} bytes, more than the limit of {options.Limits.MaxFileBytes:N0}");
        }
        return Build(ModelFile.Parse(bytes, source), source, options, fromFile: false);
    }

    private static OnnxModel Build(ModelProto model, string source, OnnxLoadOptions options, bool fromFile)
    {
        int opset = ModelFile.Opset(model, source);
        GraphCheck.Result graph = GraphCheck.Run(model.Graph, source, options.Limits);
        OnnxValueInfo[] inputs = graph.Inputs.Select(Describe).ToArray();
        OnnxValueInfo[] outputs = model.Graph.Output.Select(Describe).ToArray();
        ValueInfoProto input = ChooseInput(graph, options, source);
        string output = ChooseOutput(model.Graph, graph, options, source);
        var (floatType, shape, batch, notes) = InputShapeOf(input, options, source);
        long[] graphShape = shape;
        if (options.ChannelsLast)
        {
            if (shape.Length < 2)
            {
                throw Errors.File(source, $"its input '{Errors.Clip(input.Name)}' has no spatial dimensions to move the channels after");
            }
            // The model's shape is channels first; the graph's, channels last.
            shape = [shape[^1], .. shape[..^1]];
        }
        foreach (bool open in batch is null ? new[] { true, false } : new[] { false })
        {
            var reader = new TensorReader(source, options.Limits, fromFile);
            var builder = new GraphBuilder(source, model, graph, opset, options.Limits, floatType, open, reader);
            try
            {
                long probeBatch = open ? 1 : batch ?? 1;
                int slot = builder.Build(input.Name, [probeBatch, .. graphShape], output, options.ChannelsLast);
                var description = new ModelDescription(opset,
                    (model.ProducerName + " " + model.ProducerVersion).Trim(), inputs, outputs, input.Name, output, shape,
                    open ? null : probeBatch, notes, builder.ShapeOf(output));
                var result = new OnnxModel(source, builder, slot, description);
                builder.Release();
                return result;
            }
            catch (BatchDependenceException ex) when (open)
            {
                notes = [.. notes, $"The batch size is fixed to 1: {ex.Message.TrimEnd('.')} ({source})."];
            }
            finally
            {
                builder.Dispose();
            }
        }
        throw new InvalidOperationException("unreachable");
    }

    private static ValueInfoProto ChooseInput(GraphCheck.Result graph, OnnxLoadOptions options, string source)
    {
        if (options.Input is { } wanted)
        {
            return graph.Inputs.FirstOrDefault(i => i.Name == wanted) ?? throw Errors.File(source,
                $"it has no input '{Errors.Clip(wanted)}'; its inputs: {string.Join(", ", graph.Inputs.Select(i => Errors.Clip(i.Name)))}");
        }
        return graph.Inputs.Count switch
        {
            1 => graph.Inputs[0],
            0 => throw Errors.File(source, "its graph has no input (every input is a constant)"),
            _ => throw Errors.File(source,
                $"its graph has {graph.Inputs.Count} inputs; choose one (--input): {string.Join(", ", graph.Inputs.Select(i => Errors.Clip(i.Name)))}"),
        };
    }

    private static string ChooseOutput(GraphProto proto, GraphCheck.Result graph, OnnxLoadOptions options, string source)
    {
        if (options.Output is { } wanted)
        {
            if (proto.Output.Any(o => o.Name == wanted) || graph.Producers.ContainsKey(wanted))
            {
                return wanted;
            }
            throw Errors.File(source,
                $"it computes no value '{Errors.Clip(wanted)}'; its outputs: {string.Join(", ", proto.Output.Select(o => Errors.Clip(o.Name)))}");
        }
        return proto.Output.Count == 1
            ? proto.Output[0].Name
            : throw Errors.File(source,
                $"its graph has {proto.Output.Count} outputs; choose one (--output): {string.Join(", ", proto.Output.Select(o => Errors.Clip(o.Name)))}");
    }

    private static (ScalarType Type, long[] Shape, long? Batch, string[] Notes) InputShapeOf(ValueInfoProto input, OnnxLoadOptions options, string source)
    {
        string name = Errors.Clip(input.Name);
        var tensorType = input.Type?.TensorType ?? throw Errors.File(source, $"its input '{name}' is not a tensor");
        int elementType = tensorType.HasElemType ? tensorType.ElemType : 0;
        var notes = new List<string>();
        ScalarType type = elementType switch
        {
            ElementTypes.Float => ScalarType.Float32,
            ElementTypes.Double => ScalarType.Float64,
            ElementTypes.Float16 or ElementTypes.BFloat16 => ScalarType.Float32,
            _ => throw Errors.File(source, $"its input '{name}' has element type {ElementTypes.Name(elementType)}; only float inputs can be explained"),
        };
        if (elementType is ElementTypes.Float16 or ElementTypes.BFloat16)
        {
            notes.Add($"The {ElementTypes.Name(elementType)} model computes in float32.");
        }
        var dims = tensorType.Shape?.Dim;
        long[]? given = options.InputShape;
        if (given is { Length: >= 2 } && options.ChannelsLast)
        {
            given = [.. given[1..], given[0]];
        }
        if (dims is null)
        {
            if (given is null)
            {
                throw Errors.File(source, $"its input '{name}' has no declared shape; give the input shape (without the batch)");
            }
            return (type, Checked(given.ToArray()), null, notes.ToArray());
        }
        if (dims.Count < 1)
        {
            throw Errors.File(source, $"its input '{name}' is a scalar; a batch dimension is needed");
        }
        if (given is not null && given.Length != dims.Count - 1)
        {
            throw Errors.File(source,
                $"its input '{name}' has {dims.Count - 1} dimensions after the batch; the given input shape has {given.Length}");
        }
        var shape = new long[dims.Count - 1];
        for (int i = 1; i < dims.Count; i++)
        {
            var dim = dims[i];
            bool fixedSize = dim.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dim.DimValue > 0;
            if (fixedSize)
            {
                if (given is not null && given[i - 1] != dim.DimValue)
                {
                    throw Errors.File(source,
                        $"its input '{name}' has size {dim.DimValue} in dimension {i}, fixed by the graph; the given input shape asks for {given[i - 1]}");
                }
                shape[i - 1] = dim.DimValue;
            }
            else
            {
                shape[i - 1] = given?[i - 1] ?? throw Errors.File(source,
                    $"its input '{name}' leaves dimension {i} open ({DimensionText(dim)}); give the input shape (e.g. --size)");
            }
        }
        var batchDim = dims[0];
        long? batch = batchDim.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && batchDim.DimValue > 0
            ? batchDim.DimValue
            : null;
        if (batch is > 4096)
        {
            throw Errors.File(source, $"its input '{name}' fixes a batch of {batch}, more than 4096");
        }
        return (type, Checked(shape), batch, notes.ToArray());

        long[] Checked(long[] value)
        {
            if (value.Length + 1 > options.Limits.MaxRank || value.Any(d => d < 1)
                || Operators.Helpers.Elements(value.Prepend(2), options.Limits.MaxValueElements) < 0)
            {
                throw Errors.File(source, $"its input shape [{string.Join(", ", value)}] is empty, has too many dimensions or too many elements");
            }
            return value;
        }
    }

    private static string DimensionText(TensorShapeProto.Types.Dimension dim) => dim.ValueCase switch
    {
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => "'" + Errors.Clip(dim.DimParam) + "'",
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => dim.DimValue.ToString(CultureInfo.InvariantCulture),
        _ => "unknown",
    };

    private static OnnxValueInfo Describe(ValueInfoProto value)
    {
        var tensorType = value.Type?.TensorType;
        string type = tensorType is { HasElemType: true } ? ElementTypes.Name(tensorType.ElemType) : value.Type is null ? "?" : "not a tensor";
        IReadOnlyList<string>? dims = tensorType?.Shape?.Dim.Select(DimensionText).Select(t => t == "unknown" ? "?" : t.Trim('\'')).ToArray();
        return new OnnxValueInfo(value.Name, type, dims);
    }

    /// <summary>
    /// Whether a graph input looks like images with their channels last, <c>(N, H, W, C)</c>: rank 4, a last dimension
    /// of 1, 3 or 4 and a second dimension that is none of these (or open).
    /// </summary>
    public static bool LooksChannelsLast(OnnxValueInfo input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dimensions is not { Count: 4 } dims)
        {
            return false;
        }
        static bool Channels(string d) => d is "1" or "3" or "4";
        return Channels(dims[3]) && !Channels(dims[1]);
    }

    /// <summary>
    /// Reads only the interface of an ONNX file (its graph inputs and outputs, its operator set, and which outputs a
    /// final softmax computes), to choose the options of <see cref="Load(string, OnnxLoadOptions?)"/>; the same checks
    /// of the file apply.
    /// </summary>
    public static OnnxInterface ReadInterface(string path, OnnxLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        limits ??= OnnxLimits.Default;
        ModelProto model = ModelFile.Read(path, limits);
        int opset = ModelFile.Opset(model, path);
        GraphCheck.Result graph = GraphCheck.Run(model.Graph, path, limits);
        var beforeSoftmax = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (ValueInfoProto output in model.Graph.Output)
        {
            if (graph.Producers.TryGetValue(output.Name, out NodeProto? producer) && producer.OpType is "Softmax" or "LogSoftmax"
                && producer.Domain is "" or "ai.onnx" && producer.Input.Count == 1 && producer.Input[0].Length > 0)
            {
                beforeSoftmax[output.Name] = producer.Input[0];
            }
        }
        string producerText = (model.ProducerName + " " + model.ProducerVersion).Trim();
        return new OnnxInterface(graph.Inputs.Select(Describe).ToArray(), model.Graph.Output.Select(Describe).ToArray(), opset, producerText,
            beforeSoftmax);
    }

    /// <summary>
    /// Runs the given nodes as plain functions until the result is disposed: their modules are called without hooks,
    /// so no rule or canonizer sees them, as if the original code had computed them with a function instead of a
    /// module (PyTorch's <c>torch.relu(x)</c>, <c>x + y</c>). Use it to reproduce what an LRP implementation saw of a
    /// PyTorch model whose export made such operations visible, e.g. the residual additions of a ResNet.
    /// </summary>
    /// <param name="nodeNames">Names of nodes as <see cref="Nodes"/> lists them.</param>
    public IDisposable RunAsFunctions(IEnumerable<string> nodeNames)
    {
        ArgumentNullException.ThrowIfNull(nodeNames);
        string[] names = nodeNames.Distinct(StringComparer.Ordinal).ToArray();
        foreach (string name in names)
        {
            if (!Nodes.Any(n => n.Name == name && n.Modules.Count > 0))
            {
                throw new ArgumentException($"The model has no node '{name}' computed by a module.", nameof(nodeNames));
            }
        }
        foreach (string name in names)
        {
            plain[name] = plain.GetValueOrDefault(name) + 1;
        }
        return new PlainScope(this, names);
    }

    /// <summary>
    /// Runs the graph. Any batch size works: when the graph fixes its batch (<see cref="BatchSize"/>), the input is run
    /// in parts of that size, the last one filled up with zeros, and the outputs of the real samples are put together
    /// (the samples of an inference graph do not interact, so this is the graph's function for each sample).
    /// </summary>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != InputShape.Count + 1 || !input.shape.Skip(1).SequenceEqual(InputShape))
        {
            throw new ArgumentException(
                $"{Source}: the model was built for inputs of shape [batch, {string.Join(", ", InputShape)}]; got {TensorShapes.Format(input.shape)}.");
        }
        if (!input.is_floating_point() || OwnFloatType is { } type && input.dtype != type)
        {
            throw new ArgumentException($"{Source}: the model computes in {FloatType}; its input is {input.dtype}.");
        }
        if (BatchSize is not { } batch || input.shape[0] == batch)
        {
            return Run(input);
        }
        if (!Description.Chunked)
        {
            throw new ArgumentException(
                $"{Source}: the graph fixes its batch to {batch} and its output {TensorShapes.Format(Description.OutputShape)} does not start with it, " +
                $"so it cannot run in parts; give batches of {batch} exactly (got {input.shape[0]}).");
        }
        var parts = new List<Tensor>();
        for (long start = 0; start < input.shape[0]; start += batch)
        {
            long count = Math.Min(batch, input.shape[0] - start);
            Tensor part = input.narrow(0, start, count);
            if (count < batch)
            {
                long[] fill = [batch - count, .. InputShape];
                part = cat([part, zeros(fill, input.dtype, input.device)], 0);
            }
            Tensor output = Run(part);
            parts.Add(count < batch ? output.narrow(0, 0, count) : output);
        }
        return parts.Count == 1 ? parts[0] : cat(parts, 0);
    }

    private Tensor Run(Tensor input)
    {
        state.Batch = input.shape[0];
        var slots = new Tensor?[slotCount];
        slots[0] = input;
        bool release = !is_grad_enabled();
        for (int i = 0; i < steps.Count; i++)
        {
            Step step = steps[i];
            var args = new Tensor[step.Inputs.Length];
            for (int j = 0; j < args.Length; j++)
            {
                args[j] = slots[step.Inputs[j]]!;
            }
            slots[step.Output] = step.Run(args, plain.ContainsKey(step.Node));
            if (release)
            {
                Release(slots, i);
            }
        }
        return slots[outputSlot]!;
    }

    /// <summary>Without gradients, frees each intermediate result after its last reader (a full-size model holds many).</summary>
    private void Release(Tensor?[] slots, int step)
    {
        foreach (int slot in steps[step].Inputs)
        {
            if (slot == 0 || slot == outputSlot || lastUse[slot] != step || slots[slot] is not { } done)
            {
                continue;
            }
            slots[slot] = null;
            // An in-place module returns the very tensor it was given; keep it while another slot holds it.
            if (!slots.Any(s => ReferenceEquals(s, done)))
            {
                done.Dispose();
            }
        }
    }

    private sealed record ModelDescription(int Opset, string Producer, IReadOnlyList<OnnxValueInfo> Inputs, IReadOnlyList<OnnxValueInfo> Outputs,
        string InputName, string OutputName, IReadOnlyList<long> InputShape, long? BatchSize, IReadOnlyList<string> Notes, long[] OutputShape)
    {
        /// <summary>Whether a fixed-batch graph can run in parts: its output's first dimension is the batch.</summary>
        public bool Chunked => BatchSize is { } batch && OutputShape.Length > 0 && OutputShape[0] == batch;
    }

    /// <summary>The output's shape on the fixed input shape (at batch 1 when the batch is open).</summary>
    public IReadOnlyList<long> OutputShape => Description.OutputShape;

    private sealed class PlainScope : IDisposable
    {
        private OnnxModel? owner;
        private readonly string[] names;

        public PlainScope(OnnxModel owner, string[] names)
        {
            this.owner = owner;
            this.names = names;
        }

        public void Dispose()
        {
            if (owner is null)
            {
                return;
            }
            foreach (string name in names)
            {
                if (--owner.plain[name] == 0)
                {
                    owner.plain.Remove(name);
                }
            }
            owner = null;
        }
    }
}
