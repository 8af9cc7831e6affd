using RelevanceSharp.Onnx.Protos;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Building;

/// <summary>
/// A value of the graph while it is built: either a constant, known at load time (an initializer, a <c>Constant</c>
/// node, or anything computed from constants and from the fixed input shape), or a tensor computed from the model's
/// input at run time, for which the builder keeps a probe (the value for an all-zero input of the fixed shape) to know
/// its shape.
/// <para>
/// When the batch size is left open, everything is probed twice, at batch 1 and at batch 2; a constant that differs
/// between the two (a shape computed by <c>Shape</c> that includes the batch) keeps both, so that a consumer that can
/// (a <c>Reshape</c>) resolves it for the batch it runs on.
/// </para>
/// </summary>
internal sealed class Value
{
    private Value(string name)
    {
        Name = name;
    }

    /// <summary>The value's name in the graph.</summary>
    public string Name { get; }

    /// <summary>The constant (at batch 1, or at the fixed batch), or <c>null</c> for a computed value.</summary>
    public Tensor? Constant { get; private init; }

    /// <summary>The constant at batch 2 when it differs from <see cref="Constant"/>.</summary>
    public Tensor? ConstantAtBatch2 { get; private init; }

    /// <summary>The run-time slot of a computed value.</summary>
    public int Slot { get; private init; } = -1;

    /// <summary>The probe of a computed value (at batch 1, or at the fixed batch); released once no node needs it.</summary>
    public Tensor? Probe { get; private set; }

    /// <summary>The probe at batch 2, when the batch is open.</summary>
    public Tensor? ProbeAtBatch2 { get; private set; }

    /// <summary>The node that computed the value, if any.</summary>
    public NodeProto? Producer { get; init; }

    /// <summary>The value this one is another name for (Identity, Dropout), if any.</summary>
    public Value? AliasOf { get; private init; }

    /// <summary>Whether the value is known at load time.</summary>
    public bool IsConstant => Constant is not null;

    /// <summary>Whether the value is a constant that depends on the batch size.</summary>
    public bool DependsOnBatch => ConstantAtBatch2 is not null;

    /// <summary>The shape (at batch 1, or at the fixed batch).</summary>
    public long[] Shape { get; private init; } = Array.Empty<long>();

    /// <summary>The shape at batch 2 when the batch is open (else <see cref="Shape"/>).</summary>
    public long[] ShapeAtBatch2 { get; private init; } = Array.Empty<long>();

    /// <summary>The number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>The element type of the tensor.</summary>
    public ScalarType Type { get; private init; }

    /// <summary>A constant value; <paramref name="atBatch2"/> is kept only when it differs.</summary>
    public static Value Const(string name, Tensor value, Tensor? atBatch2 = null, NodeProto? producer = null)
    {
        Tensor first = value.DetachFromDisposeScope();
        Tensor? second = null;
        if (atBatch2 is not null)
        {
            second = atBatch2.DetachFromDisposeScope();
            if (Same(first, second))
            {
                second.Dispose();
                second = null;
            }
        }
        return new Value(name)
        {
            Constant = first,
            ConstantAtBatch2 = second,
            Shape = first.shape,
            ShapeAtBatch2 = (second ?? first).shape,
            Type = first.dtype,
            Producer = producer,
        };
    }

    /// <summary>A computed value in run-time slot <paramref name="slot"/>, with its probes.</summary>
    public static Value Computed(string name, int slot, Tensor probe, Tensor? probeAtBatch2, NodeProto? producer)
    {
        Tensor first = probe.DetachFromDisposeScope();
        Tensor? second = probeAtBatch2?.DetachFromDisposeScope();
        return new Value(name)
        {
            Slot = slot,
            Probe = first,
            ProbeAtBatch2 = second,
            Shape = first.shape,
            ShapeAtBatch2 = (second ?? first).shape,
            Type = first.dtype,
            Producer = producer,
        };
    }

    /// <summary>Another name for <paramref name="target"/> (the value itself, not a copy).</summary>
    public static Value Alias(string name, Value target, NodeProto producer) => new(name)
    {
        Constant = target.Constant,
        ConstantAtBatch2 = target.ConstantAtBatch2,
        Slot = target.Slot,
        Probe = target.Probe,
        ProbeAtBatch2 = target.ProbeAtBatch2,
        Shape = target.Shape,
        ShapeAtBatch2 = target.ShapeAtBatch2,
        Type = target.Type,
        Producer = producer,
        AliasOf = target.AliasOf ?? target,
    };

    /// <summary>The value this one stands for, looking through aliases.</summary>
    public Value Root => AliasOf ?? this;

    /// <summary>Releases the probes (the shape stays known). Aliases share the probes of their target.</summary>
    public void ReleaseProbes()
    {
        if (AliasOf is null)
        {
            Probe?.Dispose();
            ProbeAtBatch2?.Dispose();
        }
        Probe = null;
        ProbeAtBatch2 = null;
    }

    /// <summary>Releases everything the value holds.</summary>
    public void Release()
    {
        ReleaseProbes();
        if (AliasOf is null)
        {
            Constant?.Dispose();
            ConstantAtBatch2?.Dispose();
        }
    }

    private static bool Same(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && (a.numel() == 0 || a.eq(b).all().item<bool>());
}
