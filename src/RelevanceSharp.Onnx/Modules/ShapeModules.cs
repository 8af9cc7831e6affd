using RelevanceSharp.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Modules;

/// <summary>
/// Reshapes its input (ONNX <c>Reshape</c>): a view of the same data where the layout allows, so that the dataflow
/// between the modules before and after it stays visible to canonizers. Relevance passes it unchanged, element for
/// element, by the ordinary gradient. A target entry 0 copies the input's size there (unless
/// <see cref="AllowZero"/>), -1 takes what is left. When the target depends on the batch size (a shape computed from
/// the input's), each entry is <c>Target + PerBatch * (batch - 1)</c>.
/// </summary>
public sealed class Reshape : nn.Module<Tensor, Tensor>
{
    private readonly long[]? perBatch;
    private readonly Building.RunState? state;

    /// <summary>Creates the module.</summary>
    /// <param name="target">The target shape (at batch 1).</param>
    /// <param name="allowZero">Whether 0 means an empty dimension instead of "as in the input".</param>
    public Reshape(long[] target, bool allowZero = false) : this(target, allowZero, null, null)
    {
    }

    internal Reshape(long[] target, bool allowZero, long[]? perBatch, Building.RunState? state) : base("Reshape")
    {
        Target = target.ToArray();
        AllowZero = allowZero;
        this.perBatch = perBatch;
        this.state = state;
        if (Target.Count(d => d == -1) > 1 || Target.Any(d => d < -1))
        {
            throw new ArgumentException($"A reshape target may hold at most one -1 and no other negative size: {TensorShapes.Format(Target)}.");
        }
    }

    /// <summary>The target shape (at batch 1 when it depends on the batch).</summary>
    public long[] Target { get; }

    /// <summary>Whether a 0 in the target means an empty dimension.</summary>
    public bool AllowZero { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.reshape(Resolve(input.shape));

    /// <summary>The shape the input is given, with every 0 and -1 resolved.</summary>
    public long[] Resolve(long[] inputShape)
    {
        long[] shape = Target.ToArray();
        if (perBatch is not null && state is not null)
        {
            for (int i = 0; i < shape.Length; i++)
            {
                shape[i] += perBatch[i] * (state.Batch - 1);
            }
        }
        long known = 1;
        int infer = -1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 0 && !AllowZero)
            {
                shape[i] = i < inputShape.Length
                    ? inputShape[i]
                    : throw new ArgumentException($"Reshape: target {TensorShapes.Format(Target)} copies dimension {i} of an input of shape {TensorShapes.Format(inputShape)}.");
            }
            if (shape[i] == -1)
            {
                infer = i;
            }
            else
            {
                known *= shape[i];
            }
        }
        long count = inputShape.Aggregate(1L, (a, b) => a * b);
        long extent = 1;
        foreach (long d in shape)
        {
            // Sizes whose product overflows are refused even for an empty tensor (libtorch's strides would overflow).
            if (d > 1 && extent > (1L << 40) / d)
            {
                throw new ArgumentException($"Reshape: the target {TensorShapes.Format(Target)} is too large.");
            }
            extent *= Math.Max(d, 1);
        }
        if (infer >= 0)
        {
            if (known == 0 || count % known != 0)
            {
                throw new ArgumentException($"Reshape: cannot reshape {TensorShapes.Format(inputShape)} to {TensorShapes.Format(Target)}.");
            }
            shape[infer] = count / known;
        }
        else if (known != count)
        {
            throw new ArgumentException($"Reshape: cannot reshape {TensorShapes.Format(inputShape)} ({count} elements) to {TensorShapes.Format(shape)}.");
        }
        return shape;
    }
}

/// <summary>
/// ONNX <c>Flatten</c>: the dimensions before <see cref="Axis"/> become the first, the rest the second dimension. A view;
/// relevance passes unchanged.
/// </summary>
public sealed class Flatten : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public Flatten(long axis) : base("Flatten")
    {
        Axis = axis;
    }

    /// <summary>Where the second dimension starts (0 to the input's rank).</summary>
    public long Axis { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        long[] shape = input.shape;
        long outer = shape.Take((int)Axis).Aggregate(1L, (a, b) => a * b);
        long inner = shape.Skip((int)Axis).Aggregate(1L, (a, b) => a * b);
        return input.reshape(outer, inner);
    }
}

/// <summary>
/// ONNX <c>Squeeze</c> and <c>Unsqueeze</c>: removes or inserts dimensions of size 1. A view; relevance passes unchanged.
/// </summary>
public sealed class SqueezeDims : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    /// <param name="removed">The input dimensions to remove (each of size 1).</param>
    /// <param name="inserted">The output dimensions to insert (each of size 1).</param>
    public SqueezeDims(long[] removed, long[] inserted) : base(removed.Length > 0 ? "Squeeze" : "Unsqueeze")
    {
        Removed = removed.Order().ToArray();
        Inserted = inserted.Order().ToArray();
    }

    /// <summary>The removed input dimensions.</summary>
    public long[] Removed { get; }

    /// <summary>The inserted output dimensions.</summary>
    public long[] Inserted { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var shape = input.shape.Where((_, i) => !Removed.Contains(i)).ToList();
        foreach (long axis in Inserted)
        {
            shape.Insert((int)axis, 1);
        }
        foreach (long axis in Removed)
        {
            if (input.shape[axis] != 1)
            {
                throw new ArgumentException($"Squeeze: dimension {axis} of {TensorShapes.Format(input.shape)} is not of size 1.");
            }
        }
        return input.reshape(shape.ToArray());
    }
}

/// <summary>ONNX <c>Transpose</c>: permutes the dimensions. Relevance passes unchanged, element for element.</summary>
public sealed class Permute : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public Permute(long[] permutation) : base("Permute")
    {
        Permutation = permutation.ToArray();
    }

    /// <summary>Output dimension i is input dimension <c>Permutation[i]</c>.</summary>
    public long[] Permutation { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.permute(Permutation);
}

/// <summary>
/// ONNX <c>Slice</c> (and one part of a <c>Split</c>): along each listed axis, the elements from <c>start</c> to
/// <c>end</c> (exclusive) in steps of <c>step</c>, with ONNX's clamping of out-of-range starts and ends (a negative
/// step walks backwards). Relevance of the selected elements passes unchanged; the others get none.
/// </summary>
public sealed class Slice : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public Slice(long[] starts, long[] ends, long[] axes, long[] steps) : base("Slice")
    {
        if (starts.Length != ends.Length || starts.Length != axes.Length || starts.Length != steps.Length)
        {
            throw new ArgumentException("Slice: starts, ends, axes and steps must have the same length.");
        }
        if (steps.Any(s => s == 0))
        {
            throw new ArgumentException("Slice: a step may not be 0.");
        }
        Starts = starts.ToArray();
        Ends = ends.ToArray();
        Axes = axes.ToArray();
        Steps = steps.ToArray();
    }

    /// <summary>The first element per axis (negative: from the end).</summary>
    public long[] Starts { get; }

    /// <summary>The end (exclusive) per axis (negative: from the end).</summary>
    public long[] Ends { get; }

    /// <summary>The sliced axes (non-negative).</summary>
    public long[] Axes { get; }

    /// <summary>The step per axis (not 0).</summary>
    public long[] Steps { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor result = input;
        for (int i = 0; i < Axes.Length; i++)
        {
            long dim = input.shape[Axes[i]];
            var (start, count) = Range(Starts[i], Ends[i], Steps[i], dim);
            if (Steps[i] > 0)
            {
                result = count == 0 ? result.narrow(Axes[i], 0, 0) : result.slice(Axes[i], start, start + (count - 1) * Steps[i] + 1, Steps[i]);
            }
            else
            {
                long[] index = Enumerable.Range(0, (int)count).Select(k => start + k * Steps[i]).ToArray();
                using Tensor indices = tensor(index, device: input.device);
                result = result.index_select(Axes[i], indices);
            }
        }
        return result;
    }

    /// <summary>ONNX's clamping: the first index and the number of elements taken along a dimension of size <paramref name="dim"/>.</summary>
    public static (long Start, long Count) Range(long start, long end, long step, long dim)
    {
        if (start < 0)
        {
            start += dim;
        }
        if (end < 0)
        {
            end += dim;
        }
        if (step > 0)
        {
            start = Math.Clamp(start, 0, dim);
            end = Math.Clamp(end, 0, dim);
            return (start, end > start ? (end - start + step - 1) / step : 0);
        }
        start = Math.Clamp(start, 0, dim - 1);
        end = Math.Clamp(end, -1, dim - 1);
        return (start, start > end ? (start - end + (-step) - 1) / -step : 0);
    }
}

/// <summary>
/// ONNX <c>Concat</c> of computed tensors, with any constant parts kept inside the module (as buffers, so that they
/// follow the model's type and device) at their positions. A copy; relevance goes back to each part, element for element.
/// </summary>
public sealed class Concat : nn.Module<Tensor[], Tensor>
{
    private readonly ConstantParts parts;

    /// <summary>Creates the module.</summary>
    /// <param name="axis">The (non-negative) axis.</param>
    /// <param name="parts">The parts in order: <c>null</c> for the next computed input, else a constant.</param>
    public Concat(long axis, IReadOnlyList<Tensor?> parts) : base("Concat")
    {
        Axis = axis;
        this.parts = new ConstantParts(this, parts);
    }

    /// <summary>The axis.</summary>
    public long Axis { get; }

    /// <summary>For each part in order, whether it is a computed input (else a constant of the module).</summary>
    public IReadOnlyList<bool> Layout => parts.Layout;

    /// <inheritdoc />
    public override Tensor forward(Tensor[] inputs) => cat(parts.Assemble(this, inputs), Axis);
}

/// <summary><see cref="Concat"/> with one computed input: a module of one tensor, so that canonizers trace it.</summary>
public sealed class ConcatOne : nn.Module<Tensor, Tensor>
{
    private readonly ConstantParts parts;

    /// <summary>Creates the module.</summary>
    /// <param name="axis">The (non-negative) axis.</param>
    /// <param name="parts">The parts in order: <c>null</c> for the computed input, else a constant.</param>
    public ConcatOne(long axis, IReadOnlyList<Tensor?> parts) : base("Concat")
    {
        Axis = axis;
        this.parts = new ConstantParts(this, parts);
    }

    /// <summary>The axis.</summary>
    public long Axis { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => cat(parts.Assemble(this, new[] { input }), Axis);
}

/// <summary>Computed and constant parts of a concatenation, the constants held as buffers of the module.</summary>
internal sealed class ConstantParts
{
    private readonly string[] names;

    public ConstantParts(nn.Module owner, IReadOnlyList<Tensor?> parts)
    {
        Layout = parts.Select(p => p is null).ToArray();
        names = new string[parts.Count];
        for (int i = 0; i < parts.Count; i++)
        {
            if (parts[i] is { } constant)
            {
                names[i] = "part" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                owner.register_buffer(names[i], constant.detach().clone());
            }
        }
    }

    public bool[] Layout { get; }

    public List<Tensor> Assemble(nn.Module owner, IReadOnlyList<Tensor> inputs)
    {
        var buffers = owner.named_buffers(recurse: false).ToDictionary(b => b.name, b => b.buffer);
        var result = new List<Tensor>(Layout.Length);
        int next = 0;
        for (int i = 0; i < Layout.Length; i++)
        {
            result.Add(Layout[i] ? inputs[next++] : buffers[names[i]]);
        }
        return result;
    }
}

/// <summary>
/// ONNX <c>Gather</c> of a computed tensor at constant indices: <c>output[..., j..., ...] = input[..., indices[j...], ...]</c>
/// along <see cref="Axis"/>. Relevance of each output element goes back to the element it was taken from.
/// </summary>
public sealed class Gather : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public Gather(long axis, long[] indices, long[] indicesShape) : base("Gather")
    {
        Axis = axis;
        Indices = indices.ToArray();
        IndicesShape = indicesShape.ToArray();
    }

    /// <summary>The axis indexed.</summary>
    public long Axis { get; }

    /// <summary>The indices, flattened (negative ones count from the end).</summary>
    public long[] Indices { get; }

    /// <summary>The shape of the indices.</summary>
    public long[] IndicesShape { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        long dim = input.shape[Axis];
        long[] index = Indices.Select(i => i < 0 ? i + dim : i).ToArray();
        if (index.Any(i => i < 0 || i >= dim))
        {
            throw new ArgumentException($"Gather: an index is out of range for dimension {Axis} of size {dim}.");
        }
        using Tensor indices = tensor(index, device: input.device);
        Tensor picked = input.index_select(Axis, indices);
        long[] shape = input.shape.Take((int)Axis).Concat(IndicesShape).Concat(input.shape.Skip((int)Axis + 1)).ToArray();
        return picked.reshape(shape);
    }
}

/// <summary>
/// ONNX <c>Expand</c> of a computed tensor: broadcasts it to a shape. Relevance of the copies is summed back onto the
/// element they copy (the gradient of a broadcast).
/// </summary>
public sealed class Expand : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public Expand(long[] shape) : base("Expand")
    {
        Shape = shape.ToArray();
    }

    /// <summary>The shape broadcast to (with the input's, bidirectionally, as ONNX does).</summary>
    public long[] Shape { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        long[] target = Broadcast(input.shape, Shape);
        return input.expand(target);
    }

    /// <summary>Numpy's broadcast of two shapes.</summary>
    public static long[] Broadcast(long[] a, long[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long x = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            long y = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (x != y && x != 1 && y != 1)
            {
                throw new ArgumentException($"Shapes {TensorShapes.Format(a)} and {TensorShapes.Format(b)} do not broadcast.");
            }
            result[i] = x == 1 ? y : x;
        }
        return result;
    }
}

/// <summary>
/// ONNX <c>Pad</c>: <c>constant</c> (with a value), <c>reflect</c>, <c>edge</c> or <c>wrap</c> padding; negative pads
/// crop. Relevance of the input's elements passes unchanged; padding takes none.
/// </summary>
public sealed class Pad : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    /// <param name="begin">Elements added before each dimension.</param>
    /// <param name="end">Elements added after each dimension.</param>
    /// <param name="mode"><c>constant</c>, <c>reflect</c>, <c>edge</c> or <c>wrap</c>.</param>
    /// <param name="value">The fill of <c>constant</c> padding.</param>
    public Pad(long[] begin, long[] end, string mode = "constant", double value = 0.0) : base("Pad")
    {
        if (begin.Length != end.Length)
        {
            throw new ArgumentException("Pad: begin and end need one entry per dimension.");
        }
        if (mode is not ("constant" or "reflect" or "edge" or "wrap"))
        {
            throw new ArgumentException($"Pad: unknown mode '{mode}'.");
        }
        Begin = begin.ToArray();
        End = end.ToArray();
        Mode = mode;
        Value = value;
    }

    /// <summary>Elements added before each dimension.</summary>
    public long[] Begin { get; }

    /// <summary>Elements added after each dimension.</summary>
    public long[] End { get; }

    /// <summary>The padding mode.</summary>
    public string Mode { get; }

    /// <summary>The fill of constant padding.</summary>
    public double Value { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (Begin.Length != input.dim())
        {
            throw new ArgumentException($"Pad: {Begin.Length} dimensions of padding for an input of rank {input.dim()}.");
        }
        // torch lists the pads of the last dimension first.
        int last = Enumerable.Range(0, Begin.Length).LastOrDefault(i => Begin[i] != 0 || End[i] != 0, -1);
        if (last < 0)
        {
            return input.alias();
        }
        int first = Enumerable.Range(0, Begin.Length).First(i => Begin[i] != 0 || End[i] != 0);
        var pads = new List<long>();
        for (int i = Begin.Length - 1; i >= first; i--)
        {
            pads.Add(Begin[i]);
            pads.Add(End[i]);
        }
        if (Mode == "constant")
        {
            return nn.functional.pad(input, pads.ToArray(), PaddingModes.Constant, Value);
        }
        PaddingModes mode = Mode switch { "reflect" => PaddingModes.Reflect, "edge" => PaddingModes.Replicate, _ => PaddingModes.Circular };
        return nn.functional.pad(input, pads.ToArray(), mode);
    }
}
