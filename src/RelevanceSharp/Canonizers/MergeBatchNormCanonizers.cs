using RelevanceSharp.Composites;
using TorchSharp.Modules;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// Merges every batch norm into the linear layer or convolution right before it (the layer's output is read by
/// the batch norm and nothing else). The batch norm then computes the identity with <c>eps = 0</c>.
/// </summary>
public sealed class SequentialMergeBatchNorm : TracedCanonizer
{
    /// <summary>The registry entry: <c>sequential_merge_batch_norm</c>.</summary>
    [RegistryEntry(10)]
    public static CanonizerEntry Entry { get; } = new("sequential_merge_batch_norm", "Merge each batch norm into the linear layer or convolution before it.", () => new SequentialMergeBatchNorm());

    /// <summary>Creates the canonizer (see <see cref="TracedCanonizer"/> for when it traces).</summary>
    public SequentialMergeBatchNorm(Tensor? exampleInput = null) : base(exampleInput)
    {
    }

    /// <inheritdoc />
    public override string Name => "sequential_merge_batch_norm";

    /// <inheritdoc />
    protected override void Rewrite(ModelTrace trace, UndoStack undo)
    {
        foreach (var (batchNorm, node) in trace.BatchNorms().ToList())
        {
            DataflowTrace.Node? producer = node.Producer;
            while (producer is { IsReshape: true })
            {
                producer = producer.Producer;
            }
            if (producer is null || !trace.IsSingleFoldable(producer) || producer.ReachesModelOutput)
            {
                continue;
            }
            // The layer's output must go to this batch norm only, along the batch norm's channel dimension.
            if (producer.DataConsumers().Count() != 1 || !OutputChannelsMatch(producer, node, batchNorm))
            {
                continue;
            }
            var (scale, shift) = BatchNormState.AffineMap(batchNorm, trace.NameOf(batchNorm));
            undo.Push(LayerMerge.FoldOutput(producer.Module, scale, shift));
            undo.Push(BatchNormState.MakeIdentity(batchNorm));
        }
    }

    private static bool OutputChannelsMatch(DataflowTrace.Node layer, DataflowTrace.Node batchNormNode, BatchNorm batchNorm)
    {
        long channels = batchNorm.num_features;
        if (LayerMerge.OutputChannels(layer.Module) != channels || batchNormNode.InputShape.Length < 2 || batchNormNode.InputShape[1] != channels)
        {
            return false;
        }
        // A dense layer's features are its last dimension; they are the batch norm's channels only for (N, F) data.
        return layer.Module is not Linear || layer.OutputShape.Length == 2;
    }
}

/// <summary>
/// Merges every batch norm into the linear layers or convolutions that read its output (directly, or through a
/// reshape such as a flatten), for any stride, padding, dilation and groups. Zero padding makes the merged bias
/// a map over output positions; other padding modes pad batch-norm outputs, so the bias stays constant.
/// </summary>
public sealed class MergeBatchNormToRight : TracedCanonizer
{
    /// <summary>The registry entry: <c>merge_batch_norm_to_right</c>.</summary>
    [RegistryEntry(20)]
    public static CanonizerEntry Entry { get; } = new("merge_batch_norm_to_right", "Merge each batch norm into the linear layers or convolutions after it.", () => new MergeBatchNormToRight());

    /// <summary>Creates the canonizer (see <see cref="TracedCanonizer"/> for when it traces).</summary>
    public MergeBatchNormToRight(Tensor? exampleInput = null) : base(exampleInput)
    {
    }

    /// <inheritdoc />
    public override string Name => "merge_batch_norm_to_right";

    /// <inheritdoc />
    protected override void Rewrite(ModelTrace trace, UndoStack undo)
    {
        foreach (var (batchNorm, node) in trace.BatchNorms().ToList())
        {
            List<DataflowTrace.Node> layers = node.DataConsumers().ToList();
            if (layers.Count == 0 || node.ReachesModelOutput || !layers.All(layer => RightMerge.Accepts(trace, layer, batchNorm)))
            {
                continue;
            }
            var (scale, shift) = BatchNormState.AffineMap(batchNorm, trace.NameOf(batchNorm));
            foreach (DataflowTrace.Node layer in layers)
            {
                undo.Push(LayerMerge.FoldInput(layer.Module, scale, shift));
            }
            undo.Push(BatchNormState.MakeIdentity(batchNorm));
        }
    }
}

/// <summary>
/// Batch norm → ReLU → linear layer or convolution (optionally with an average pool, adaptive or not, between the
/// ReLU and the layer) becomes ThreshReLU → merged layer: the batch norm computes the identity, the ReLU call
/// outputs its input <c>x</c> where <c>scale * x + shift &gt; 0</c> and <c>-shift / scale</c> elsewhere, so the
/// merged layer, which applies <c>scale * t + shift</c> to what it receives, sees exactly <c>relu(bn(x))</c>.
/// Channels with <c>scale = 0</c> output 0 and the layer's bias takes <c>relu(shift)</c> for them. The ReLU keeps
/// its module type, so composites still treat it as an activation; only the call that follows the merged batch
/// norm changes (a ReLU module used elsewhere too keeps working as a ReLU there). See <see cref="ThreshReLU"/> for
/// how relevance passes the ThreshReLU call.
/// </summary>
public sealed class ThreshReLUMergeBatchNorm : TracedCanonizer
{
    /// <summary>The registry entry: <c>thresh_relu_merge_batch_norm</c>.</summary>
    [RegistryEntry(30)]
    public static CanonizerEntry Entry { get; } = new("thresh_relu_merge_batch_norm", "Batch norm -> ReLU -> (average pool ->) layer becomes ThreshReLU -> merged layer.", () => new ThreshReLUMergeBatchNorm());

    /// <summary>Creates the canonizer (see <see cref="TracedCanonizer"/> for when it traces).</summary>
    public ThreshReLUMergeBatchNorm(Tensor? exampleInput = null) : base(exampleInput)
    {
    }

    /// <inheritdoc />
    public override string Name => "thresh_relu_merge_batch_norm";

    /// <inheritdoc />
    protected override void Rewrite(ModelTrace trace, UndoStack undo)
    {
        foreach (var (batchNorm, node) in trace.BatchNorms().ToList())
        {
            List<DataflowTrace.Node> next = node.DataConsumers().ToList();
            if (next.Count != 1 || node.ReachesModelOutput || next[0].Module is not ReLU || next[0].ReachesModelOutput)
            {
                continue;
            }
            DataflowTrace.Node relu = next[0];
            List<DataflowTrace.Node>? layers = LayersAfter(trace, relu, batchNorm);
            if (layers is null)
            {
                continue;
            }
            var (scale, shift) = BatchNormState.AffineMap(batchNorm, trace.NameOf(batchNorm));
            Tensor dead = scale.eq(Scalars.Of(0.0));
            // A channel with scale 0 outputs relu(shift) whatever its input; that constant moves into the layer.
            Tensor layerShift = where(dead, shift.clamp_min(Scalars.Of(0.0)), shift).DetachFromDisposeScope();
            foreach (DataflowTrace.Node layer in layers)
            {
                undo.Push(LayerMerge.FoldInput(layer.Module, scale, layerShift));
            }
            undo.Push(layerShift);
            undo.Push(ThreshReLU.Attach(batchNorm, (ReLU)relu.Module, scale, shift));
            undo.Push(BatchNormState.MakeIdentity(batchNorm));
        }
    }

    /// <summary>The layers fed by the ReLU (through average pools), or <c>null</c> if anything else reads its output.</summary>
    private static List<DataflowTrace.Node>? LayersAfter(ModelTrace trace, DataflowTrace.Node relu, BatchNorm batchNorm)
    {
        var layers = new List<DataflowTrace.Node>();
        foreach (DataflowTrace.Node consumer in relu.DataConsumers())
        {
            if (RightMerge.Accepts(trace, consumer, batchNorm))
            {
                layers.Add(consumer);
                continue;
            }
            if (!RightMerge.IsChannelwiseAveragePool(consumer.Module) || consumer.ReachesModelOutput)
            {
                return null;
            }
            List<DataflowTrace.Node> pooled = consumer.DataConsumers().ToList();
            if (pooled.Count == 0 || !pooled.All(layer => RightMerge.Accepts(trace, layer, batchNorm)))
            {
                return null;
            }
            layers.AddRange(pooled);
        }
        return layers.Count == 0 ? null : layers;
    }
}

/// <summary>Checks shared by the merges into the layer after a batch norm.</summary>
internal static class RightMerge
{
    /// <summary>Whether <paramref name="layer"/> can take the batch norm's affine map on its input.</summary>
    public static bool Accepts(TracedCanonizer.ModelTrace trace, DataflowTrace.Node layer, BatchNorm batchNorm)
    {
        if (!trace.IsSingleFoldable(layer) || layer.InputShape.Length < 2)
        {
            return false;
        }
        long channels = batchNorm.num_features;
        return layer.Module switch
        {
            // A dense layer reads (N, F) data; F covers the channels in order, F / C features each.
            Linear linear => layer.InputShape.Length == 2 && linear.in_features % channels == 0,
            Convolution convolution => convolution.in_channels == channels && layer.InputShape[1] == channels,
            _ => false,
        };
    }

    /// <summary>Whether a pool averages within channels so that it commutes with a per-channel affine map.</summary>
    public static bool IsChannelwiseAveragePool(nn.Module module) => module switch
    {
        AdaptiveAvgPool1d or AdaptiveAvgPool2d or AdaptiveAvgPool3d => true,
        AvgPool1d pool => !pool.count_include_pad || (pool.padding ?? 0) == 0,
        AvgPool2d pool => pool.divisor_override is null && (!pool.count_include_pad || pool.padding is null || pool.padding.All(p => p == 0)),
        AvgPool3d pool => pool.divisor_override is null && (!pool.count_include_pad || pool.padding is null || pool.padding.All(p => p == 0)),
        _ => false,
    };
}
