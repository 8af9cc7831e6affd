using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// The dataflow between the leaf modules of a model, recorded from one forward pass. A module B consumes the
/// output of module A when B's input is the very tensor A returned, or a reshape of it: the same storage, offset
/// and number of elements, both contiguous, with unchanged values. Any other operation in between (a
/// concatenation, an addition, a copy, an in-place change of the values) breaks the link. The producer of a
/// tensor is the last module that returned it (an in-place ReLU returns its input's storage).
/// </summary>
public sealed class DataflowTrace
{
    private readonly List<Node> nodes;

    private DataflowTrace(List<Node> nodes, TensorKey outputKey, Tensor outputValue)
    {
        this.nodes = nodes;
        ModelOutput = outputKey;
        OutputValue = outputValue;
    }

    /// <summary>A copy of the model's output in the traced pass.</summary>
    public Tensor OutputValue { get; }

    /// <summary>Identity of a tensor's data: storage address, offset and size, and whether it is contiguous.</summary>
    public readonly record struct TensorKey(long Storage, long Offset, long Count, bool Contiguous)
    {
        /// <summary>Whether a consumer reading <paramref name="other"/> reads exactly this data, in this order.</summary>
        public bool SameData(TensorKey other) =>
            Contiguous && other.Contiguous && Storage == other.Storage && Offset == other.Offset && Count == other.Count;
    }

    /// <summary>Cheap summary of a tensor's values (sum and sum of squares in float64).</summary>
    public readonly record struct Fingerprint(double Sum, double SumOfSquares);

    /// <summary>One call of a leaf module.</summary>
    public sealed class Node
    {
        internal Node(int index, string name, nn.Module<Tensor, Tensor> module, int call)
        {
            Index = index;
            Name = name;
            Module = module;
            Call = call;
        }

        /// <summary>Position in call order.</summary>
        public int Index { get; }

        /// <summary>The module's name in the model.</summary>
        public string Name { get; }

        /// <summary>The module.</summary>
        public nn.Module<Tensor, Tensor> Module { get; }

        /// <summary>Which call of this module it is (0 for the first).</summary>
        public int Call { get; }

        /// <summary>The input's shape.</summary>
        public long[] InputShape { get; internal set; } = Array.Empty<long>();

        /// <summary>The output's shape.</summary>
        public long[] OutputShape { get; internal set; } = Array.Empty<long>();

        /// <summary>The module whose output this call consumed, if any.</summary>
        public Node? Producer { get; internal set; }

        /// <summary>The calls that consumed this call's output.</summary>
        public List<Node> Consumers { get; } = new();

        /// <summary>Whether the output is (a reshape of) the model's output.</summary>
        public bool IsModelOutput { get; internal set; }

        /// <summary>
        /// Whether this call only changed the shape of its input (e.g. a Flatten module): its consumers read the
        /// producer's data.
        /// </summary>
        public bool IsReshape { get; internal set; }

        /// <summary>
        /// The calls that read this call's output, looking through reshape calls (a Flatten module between a pool
        /// and a dense layer keeps them linked).
        /// </summary>
        public IEnumerable<Node> DataConsumers()
        {
            foreach (Node consumer in Consumers)
            {
                if (consumer.IsReshape)
                {
                    foreach (Node further in consumer.DataConsumers())
                    {
                        yield return further;
                    }
                }
                else
                {
                    yield return consumer;
                }
            }
        }

        /// <summary>Whether the output reaches the model's output (directly or through reshape calls).</summary>
        public bool ReachesModelOutput => IsModelOutput || Consumers.Any(c => c.IsReshape && c.ReachesModelOutput);

        internal TensorKey OutputKey { get; set; }

        internal TensorKey InputKey { get; set; }

        internal Fingerprint? InputFingerprint { get; set; }

        /// <inheritdoc />
        public override string ToString() => Call == 0 ? Name : $"{Name}#{Call}";
    }

    /// <summary>All leaf calls, in the order they started.</summary>
    public IReadOnlyList<Node> Nodes => nodes;

    /// <summary>Identity of the model's output.</summary>
    public TensorKey ModelOutput { get; }

    /// <summary>How many times a module was called.</summary>
    public int CallCount(nn.Module module) => nodes.Count(n => ReferenceEquals(n.Module, module));

    /// <summary>The identity of a tensor.</summary>
    public static TensorKey KeyOf(Tensor tensor) =>
        new(StorageAddress(tensor), tensor.storage_offset(), tensor.numel(), tensor.is_contiguous());

    /// <summary>Runs the model once on <paramref name="input"/> (without gradients) and records its dataflow.</summary>
    public static DataflowTrace Record(nn.Module<Tensor, Tensor> model, Tensor input)
    {
        var recorder = new Recorder();
        var registrations = new List<IDisposable>();
        try
        {
            foreach (var (name, module) in model.NamedLeaves())
            {
                if (module is nn.Module<Tensor, Tensor> leaf)
                {
                    registrations.Add(ModuleHooks.Add(leaf, HookStage.Outer, new Probe(recorder, name)));
                }
            }
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            Tensor output = model.forward(input);
            TensorKey outputKey = KeyOf(output);
            foreach (Node node in recorder.Nodes)
            {
                node.IsModelOutput = node.OutputKey.SameData(outputKey) && ReferenceEquals(recorder.LastProducer(outputKey), node);
            }
            return new DataflowTrace(recorder.Nodes, outputKey, output.detach().clone().MoveToOuterDisposeScope());
        }
        finally
        {
            foreach (IDisposable registration in registrations)
            {
                registration.Dispose();
            }
            recorder.Dispose();
        }
    }

    private static long StorageAddress(Tensor tensor) =>
        TensorAddress.Storage(tensor) ?? throw new NotSupportedException($"Tracing tensors of type {tensor.dtype} is not supported.");

    private static Fingerprint FingerprintOf(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        Tensor values = tensor.detach().to(ScalarType.Float64);
        return new Fingerprint(values.sum().item<double>(), values.pow(Scalars.Of(2.0)).sum().item<double>());
    }

    /// <summary>Collects calls while the traced forward runs; keeps every seen tensor alive so no storage is reused.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly Dictionary<TensorKey, (Node Node, Fingerprint Fingerprint)> producers = new();
        private readonly Dictionary<nn.Module, int> calls = new(ReferenceEqualityComparer.Instance);
        private readonly List<Tensor> keepAlive = new();

        public List<Node> Nodes { get; } = new();

        public Node? LastProducer(TensorKey key) => producers.TryGetValue(key, out var entry) ? entry.Node : null;

        public Node Begin(string name, nn.Module<Tensor, Tensor> module, Tensor input)
        {
            calls.TryGetValue(module, out int call);
            calls[module] = call + 1;
            var node = new Node(Nodes.Count, name, module, call) { InputShape = input.shape };
            Nodes.Add(node);
            keepAlive.Add(input.alias().DetachFromDisposeScope());
            TensorKey key = KeyOf(input);
            node.InputKey = key;
            foreach (var (producedKey, (producer, fingerprint)) in producers)
            {
                if (producedKey.SameData(key))
                {
                    node.InputFingerprint = FingerprintOf(input);
                    if (fingerprint == node.InputFingerprint)
                    {
                        node.Producer = producer;
                        producer.Consumers.Add(node);
                    }
                    break;
                }
            }
            return node;
        }

        public void End(Node node, Tensor output)
        {
            node.OutputShape = output.shape;
            keepAlive.Add(output.alias().DetachFromDisposeScope());
            TensorKey key = KeyOf(output);
            node.OutputKey = key;
            Fingerprint fingerprint = FingerprintOf(output);
            node.IsReshape = !node.Module.parameters().Any() && key.SameData(node.InputKey)
                && node.InputFingerprint is { } before && before == fingerprint;
            // Any reshape of the same data is produced by this module from now on.
            foreach (TensorKey stale in producers.Keys.Where(k => k.Storage == key.Storage).ToList())
            {
                producers.Remove(stale);
            }
            producers[key] = (node, fingerprint);
        }

        public void Dispose()
        {
            foreach (Tensor tensor in keepAlive)
            {
                tensor.Dispose();
            }
            keepAlive.Clear();
        }
    }

    private sealed class Probe : IForwardInterceptor
    {
        private readonly Recorder recorder;
        private readonly string name;
        private readonly Stack<Node> open = new();

        public Probe(Recorder recorder, string name)
        {
            this.recorder = recorder;
            this.name = name;
        }

        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input)
        {
            open.Push(recorder.Begin(name, module, input));
            return input;
        }

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            if (open.Count > 0)
            {
                recorder.End(open.Pop(), output);
            }
            return output;
        }
    }
}
