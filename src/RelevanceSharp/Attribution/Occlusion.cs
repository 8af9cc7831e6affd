using RelevanceSharp.Composites;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Attribution;

/// <summary>
/// Occlusion: a window slides over the input on a stride grid; for every position the model sees an occluded
/// input and the target score of that input is added to every element the window covers. By default (as in the
/// reference implementation) everything <em>outside</em> the window is replaced by zeros, so each score measures
/// what the window alone supports; pass <see cref="OccludeWindow"/> for the classic variant.
/// </summary>
public sealed class Occlusion : Attributor
{
    /// <summary>The side of the window unless given another.</summary>
    public const int DefaultWindow = 8;

    // Occluded inputs per forward pass when built from the registry; a matter of speed only.
    private const int RegistryBatchSize = 4;

    private static readonly ArgumentSpec WindowArgument =
        ArgumentSpec.WholeNumber("window", DefaultWindow, "Side of the square window in pixels.") with { Minimum = 1 };

    private static readonly ArgumentSpec StrideArgument =
        ArgumentSpec.WholeNumber("stride", null, "Step of the window in pixels (default: the window side).") with { Minimum = 1, DefaultFrom = "window" };

    private readonly Func<Tensor, Tensor, Tensor> occlude;

    /// <summary>
    /// The registry entry: <c>occlusion</c> with a square window over the last two dimensions (height and width), which
    /// keeps the window and zeros the rest; it takes no composite.
    /// </summary>
    [RegistryEntry(40)]
    public static MethodEntry Entry { get; } = new("occlusion", "Occlusion: how much of the target score a sliding window alone keeps.",
        [WindowArgument, StrideArgument],
        c =>
        {
            long window = c.Arguments.WholeNumber(WindowArgument), stride = c.Arguments.WholeNumber(StrideArgument);
            return new Occlusion(c.Model, c.Composite, c.Target, window: [window, window], stride: [stride, stride], batchSize: RegistryBatchSize);
        })
    {
        TakesComposite = false,
        Describe = (v, _) => $"occlusion (window {v["window"]}, stride {v["stride"]})",
    };

    /// <summary>
    /// Creates the attributor. <paramref name="window"/> and <paramref name="stride"/> give one size per input dimension
    /// counted from the last (fewer than the input's dimensions leave the leading ones whole); a single value
    /// applies to every dimension but the batch, capped at that dimension's size.
    /// </summary>
    public Occlusion(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null,
        IReadOnlyList<long>? window = null, IReadOnlyList<long>? stride = null, Func<Tensor, Tensor, Tensor>? occlusion = null,
        int batchSize = 1)
        : base(model, composite, target)
    {
        Window = window ?? new long[] { DefaultWindow };
        Stride = stride ?? Window;
        if (Window.Count == 0 || Window.Any(w => w < 1) || Stride.Count == 0 || Stride.Any(s => s < 1))
        {
            throw new ArgumentException("Occlusion window and stride must be positive.");
        }
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        }
        occlude = occlusion ?? KeepWindow(x => zeros_like(x));
        BatchSize = batchSize;
    }

    /// <summary>Window sizes.</summary>
    public IReadOnlyList<long> Window { get; }

    /// <summary>Strides.</summary>
    public IReadOnlyList<long> Stride { get; }

    /// <summary>How many occluded inputs go through the model at once.</summary>
    public int BatchSize { get; }

    /// <summary>Keeps the window and fills everything else (the reference default).</summary>
    public static Func<Tensor, Tensor, Tensor> KeepWindow(Func<Tensor, Tensor> fill) =>
        (input, mask) => where(mask, input, fill(input));

    /// <summary>Fills the window and keeps everything else.</summary>
    public static Func<Tensor, Tensor, Tensor> OccludeWindow(Func<Tensor, Tensor> fill) =>
        (input, mask) => where(mask, fill(input), input);

    /// <inheritdoc />
    protected override bool TakesGradients => false;

    /// <summary>Each sample's class score (<see cref="AttributionTarget.ClassScores"/>): what the windows keep of it.</summary>
    public override AttributionTarget ClassTarget(IReadOnlyList<long> classes) => AttributionTarget.ClassScores(classes);

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        var (window, stride) = Resolve(input.shape);
        int dims = (int)input.dim();
        Tensor rootMask = zeros(input.shape, ScalarType.Bool, input.device);
        rootMask[window.Select(w => TensorIndex.Slice(0, w)).ToArray()] = true;

        var offsets = new List<long[]>();
        Enumerate(input.shape, stride, 0, new long[dims], offsets);

        Tensor result = zeros_like(input);
        using (no_grad())
        {
            for (int start = 0; start < offsets.Count; start += BatchSize)
            {
                using var step = NewDisposeScope();
                var chunk = offsets.Skip(start).Take(BatchSize).ToList();
                var masks = chunk.Select(offset => rootMask.roll(offset, Enumerable.Range(0, dims).Select(d => (long)d).ToArray())).ToList();
                var occluded = masks.Select(mask => occlude(input, mask)).ToList();
                Tensor outputs = Model.call(occluded.Count == 1 ? occluded[0] : cat(occluded, 0));
                long batch = input.shape[0];
                for (int i = 0; i < masks.Count; i++)
                {
                    Tensor output = outputs.narrow(0, i * batch, batch);
                    Tensor seed = target.Resolve(output);
                    long[] reduce = Enumerable.Range(1, (int)output.dim() - 1).Select(d => (long)d).ToArray();
                    Tensor score = reduce.Length == 0 ? seed : seed.sum(reduce);
                    long[] view = new long[dims];
                    Array.Fill(view, 1L);
                    view[0] = batch;
                    result.add_(masks[i].to(input.dtype) * score.view(view), Scalars.One);
                }
            }
        }
        Tensor final = Model.call(input);
        return (final, result);
    }

    private (long[] Window, long[] Stride) Resolve(long[] shape)
    {
        int dims = shape.Length;
        long[] window = Expand(Window, shape);
        long[] stride = Expand(Stride, shape);
        if (window.Length > dims)
        {
            throw new ArgumentException($"The occlusion window has {Window.Count} sizes but the input only {dims} dimensions.");
        }
        return (window, stride);

        // Window and stride resolve independently, so they may differ in length (one size for every dimension, or one
        // per trailing dimension).
        long[] Expand(IReadOnlyList<long> sizes, long[] inputShape)
        {
            if (sizes.Count == 1)
            {
                // One size: every dimension but the batch, capped at its extent; the batch is taken whole.
                return new[] { inputShape[0] }.Concat(inputShape.Skip(1).Select(extent => Math.Min(sizes[0], extent))).ToArray();
            }
            if (sizes.Count > inputShape.Length)
            {
                throw new ArgumentException(
                    $"The occlusion {(ReferenceEquals(sizes, Window) ? "window" : "stride")} has {sizes.Count} sizes but the input only {inputShape.Length} dimensions.");
            }
            return inputShape.Take(inputShape.Length - sizes.Count).Concat(sizes).ToArray();
        }
    }

    private static void Enumerate(long[] shape, long[] stride, int dim, long[] current, List<long[]> offsets)
    {
        if (dim == shape.Length)
        {
            offsets.Add((long[])current.Clone());
            return;
        }
        for (long position = 0; position < shape[dim]; position += stride[dim])
        {
            current[dim] = position;
            Enumerate(shape, stride, dim + 1, current, offsets);
        }
    }
}
