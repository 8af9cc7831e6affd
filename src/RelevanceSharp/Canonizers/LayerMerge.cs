using RelevanceSharp.Core;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// Folds per-channel affine maps (batch norms) into linear layers and convolutions, restorably. Weights are
/// scaled in place (the module keeps its tensor objects; the old values come back from a saved copy). The bias
/// becomes a <see cref="BiasOverride"/> that rules see as the layer's bias: the module's own bias (if it has one)
/// is zeroed while merged and the override is added to the module's output by an inner interceptor. Folding into
/// the input side of a zero-padded convolution makes the bias a map over output positions (different near the
/// borders), computed per input shape and cached.
/// </summary>
public static class LayerMerge
{
    /// <summary>Whether a module is a layer this class can fold into.</summary>
    public static bool IsFoldable(nn.Module module) => module is Linear or Convolution;

    /// <summary>
    /// Folds <c>y = scale * layer(x) + shift</c> (a batch norm after the layer) into the layer: output channel
    /// <c>o</c> of the weight is scaled by <c>scale[o]</c>, the bias becomes <c>bias * scale + shift</c>.
    /// </summary>
    public static IDisposable FoldOutput(nn.Module<Tensor, Tensor> layer, Tensor scale, Tensor shift)
    {
        long outputs = OutputChannels(layer);
        CheckLength(layer, scale, outputs, "output channels");
        return Guarded(undo =>
        {
            BiasOverride previous = Install(layer, undo);
            Tensor scaleCopy = scale.detach().clone().DetachFromDisposeScope();
            Tensor shiftCopy = shift.detach().clone().DetachFromDisposeScope();
            ScaleWeight(layer, undo, weight => layer switch
            {
                ConvolutionTranspose t => GroupedFactors(weight, t.groups, scaleCopy),
                _ => scaleCopy.view(ChannelShape(weight.dim(), 0, outputs)),
            });
            SetOverride(layer, undo, new ComposedBias(shape =>
            {
                Tensor old = previous.Resolve(shape);
                long[] view = ChannelShape(old.dim(), 0, outputs);
                return (old * scaleCopy.view(view)).add(shiftCopy.view(view), Scalars.One);
            }));
            undo.Push(() =>
            {
                scaleCopy.Dispose();
                shiftCopy.Dispose();
            });
        });
    }

    /// <summary>
    /// Folds a per-channel map <c>x' = scale * x + shift</c> applied to the layer's input (a batch norm before it)
    /// into the layer. For a dense layer whose input is a flattened feature map, each channel's values cover
    /// <c>in_features / channels</c> consecutive features.
    /// </summary>
    public static IDisposable FoldInput(nn.Module<Tensor, Tensor> layer, Tensor scale, Tensor shift)
    {
        long inputs = InputChannels(layer);
        long channels = scale.shape[0];
        if (channels == 0 || inputs % channels != 0)
        {
            throw new InvalidOperationException(
                $"Cannot fold a batch norm of {channels} channels into {layer.Describe()}, which has {inputs} inputs.");
        }
        if (layer is Convolution && inputs != channels)
        {
            throw new InvalidOperationException(
                $"Cannot fold a batch norm of {channels} channels into {layer.Describe()}, which has {inputs} input channels.");
        }
        long perChannel = inputs / channels;
        return Guarded(undo =>
        {
            BiasOverride previous = Install(layer, undo);
            Tensor scaleCopy = Expand(scale, perChannel);
            Tensor shiftCopy = Expand(shift, perChannel);
            Tensor oldWeight = Weight(layer).detach().clone().DetachFromDisposeScope();
            ScaleWeight(layer, undo, weight => layer switch
            {
                Linear => scaleCopy.view(1, inputs),
                ConvolutionTranspose => scaleCopy.view(ChannelShape(weight.dim(), 0, inputs)),
                Convolution c => GroupedFactors(weight, c.groups, scaleCopy),
                _ => throw new NotSupportedException(layer.Describe()),
            });
            var contribution = new ShapeCache(shape => ShiftContribution(layer, oldWeight, shiftCopy, shape));
            SetOverride(layer, undo, new ComposedBias(shape => AddChannelFirst(previous.Resolve(shape), contribution.Get(shape))));
            undo.Push(() =>
            {
                contribution.Dispose();
                oldWeight.Dispose();
                scaleCopy.Dispose();
                shiftCopy.Dispose();
            });
        });
    }

    /// <summary>Runs changes that push their undo actions; if one fails, the ones already made are undone.</summary>
    private static IDisposable Guarded(Action<UndoStack> changes)
    {
        var undo = new UndoStack();
        try
        {
            changes(undo);
            return undo;
        }
        catch
        {
            undo.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Adds two biases laid out channels first: a vector over channels and a map (channels, positions...) broadcast
    /// along the channel dimension, never along the last one.
    /// </summary>
    private static Tensor AddChannelFirst(Tensor a, Tensor b)
    {
        if (a.dim() == b.dim())
        {
            return a.add(b, Scalars.One);
        }
        (Tensor low, Tensor high) = a.dim() < b.dim() ? (a, b) : (b, a);
        return high.add(low.view(ChannelShape(high.dim(), 0, low.shape[0])), Scalars.One);
    }

    /// <summary>The number of output channels (or features) of a foldable layer.</summary>
    public static long OutputChannels(nn.Module layer) => layer switch
    {
        Linear linear => linear.out_features,
        Convolution convolution => convolution.out_channels,
        _ => throw new NotSupportedException($"Cannot merge a batch norm into {layer.Describe()}."),
    };

    /// <summary>The number of input channels (or features) of a foldable layer.</summary>
    public static long InputChannels(nn.Module layer) => layer switch
    {
        Linear linear => linear.in_features,
        Convolution convolution => convolution.in_channels,
        _ => throw new NotSupportedException($"Cannot merge a batch norm into {layer.Describe()}."),
    };

    private static Tensor Weight(nn.Module layer) => layer switch
    {
        Linear linear => linear.weight!,
        Convolution convolution => convolution.weight!,
        _ => throw new NotSupportedException(layer.Describe()),
    };

    private static Tensor? OwnBias(nn.Module layer) => layer switch
    {
        Linear linear => linear.bias,
        Convolution convolution => convolution.bias,
        _ => null,
    };

    private static void CheckLength(nn.Module layer, Tensor values, long expected, string what)
    {
        if (values.dim() != 1 || values.shape[0] != expected)
        {
            throw new InvalidOperationException(
                $"Cannot merge a batch norm of {values.shape[0]} channels into {layer.Describe()}, which has {expected} {what}.");
        }
    }

    private static Tensor Expand(Tensor perChannel, long repeats)
    {
        Tensor detached = perChannel.detach();
        Tensor expanded = repeats == 1 ? detached.clone() : detached.repeat_interleave(repeats);
        return expanded.DetachFromDisposeScope();
    }

    /// <summary>Shape <c>(1, ..., n, ..., 1)</c> of <paramref name="dims"/> dimensions with <c>n</c> at <paramref name="at"/>.</summary>
    private static long[] ChannelShape(long dims, int at, long n)
    {
        long[] shape = Enumerable.Repeat(1L, (int)Math.Max(dims, 1)).ToArray();
        shape[at] = n;
        return shape;
    }

    /// <summary>
    /// Per-channel factors laid out over a grouped weight. Standard convolutions hold (out, in/groups, k...) and are
    /// scaled on the input side; transposed ones hold (in, out/groups, k...) and are scaled on the output side. In
    /// both cases channel <c>c</c> of the scaled side belongs to group <c>c / (channels / groups)</c> and sits at index
    /// <c>c % (channels / groups)</c> of the weight's second dimension, and weight row <c>r</c> belongs to group
    /// <c>r / (rows / groups)</c>.
    /// </summary>
    private static Tensor GroupedFactors(Tensor weight, long groups, Tensor factors)
    {
        long rows = weight.shape[0];
        long columns = weight.shape[1];
        Tensor grid = factors.view(groups, 1, columns).expand(groups, rows / groups, columns).reshape(rows, columns);
        return grid.view(new long[] { rows, columns }.Concat(Enumerable.Repeat(1L, (int)weight.dim() - 2)).ToArray());
    }

    private static void ScaleWeight(nn.Module layer, UndoStack undo, Func<Tensor, Tensor> factors)
    {
        Tensor weight = Weight(layer);
        Tensor saved = weight.detach().clone().DetachFromDisposeScope();
        using (no_grad())
        {
            using var scope = NewDisposeScope();
            weight.mul_(factors(weight));
        }
        undo.Push(() =>
        {
            using (no_grad())
            {
                weight.copy_(saved);
            }
            saved.Dispose();
        });
    }

    private static void SetOverride(nn.Module layer, UndoStack undo, BiasOverride value)
    {
        BiasOverride? previous = LayerParameters.GetBiasOverride(layer);
        LayerParameters.SetBiasOverride(layer, value);
        undo.Push(() =>
        {
            LayerParameters.SetBiasOverride(layer, previous);
            (value as IDisposable)?.Dispose();
        });
    }

    /// <summary>
    /// Makes sure the layer's bias is an override (installing one that holds the layer's own bias, which is then
    /// zeroed, if this is the first merge into the layer) and returns the current override.
    /// </summary>
    private static BiasOverride Install(nn.Module<Tensor, Tensor> layer, UndoStack undo)
    {
        BiasOverride? current = LayerParameters.GetBiasOverride(layer);
        if (current is not null)
        {
            return current;
        }
        Tensor weight = Weight(layer);
        Tensor? own = OwnBias(layer);
        Tensor initial = (own is null
            ? zeros(OutputChannels(layer), weight.dtype, weight.device)
            : own.detach().clone()).DetachFromDisposeScope();
        var constant = new ConstantBias(initial);
        if (own is not null)
        {
            Tensor saved = own.detach().clone().DetachFromDisposeScope();
            using (no_grad())
            {
                own.zero_();
            }
            undo.Push(() =>
            {
                using (no_grad())
                {
                    own.copy_(saved);
                }
                saved.Dispose();
            });
        }
        IDisposable interceptor = ModuleHooks.Add(layer, HookStage.Inner, new BiasAdder());
        undo.Push(interceptor);
        SetOverride(layer, undo, constant);
        return constant;
    }

    private static Tensor ShiftContribution(nn.Module<Tensor, Tensor> layer, Tensor oldWeight, Tensor shift, long[] inputShape)
    {
        using var noGrad = no_grad();
        long[] single = new long[] { 1 }.Concat(inputShape.Skip(1)).ToArray();
        Tensor input = layer is Linear
            ? shift.view(1, shift.shape[0]).expand(single)
            : shift.view(ChannelShape(single.Length, 1, shift.shape[0])).expand(single);
        var parameters = new Dictionary<string, Tensor?> { ["weight"] = oldWeight, ["bias"] = null };
        Tensor contribution = LayerCompute.Forward(layer, input.contiguous(), parameters).squeeze(0);
        // Without padding every output position of a convolution sees whole kernels of the constant input: the map
        // is one value per channel, and as a vector it goes into the convolution call itself instead of a pass of
        // its own after it.
        bool unpadded = layer is Convolution convolution and not ConvolutionTranspose
            && LayerCompute.SpatialPadding(convolution).All(p => p.Left == 0 && p.Right == 0);
        return unpadded ? contribution.flatten(1)[.., 0].contiguous() : contribution;
    }

    /// <summary>Adds a layer's bias override to what the (bias-zeroed) layer computed.</summary>
    private sealed class BiasAdder : IForwardInterceptor
    {
        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input) => input;

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            BiasOverride? bias = LayerParameters.GetBiasOverride(module);
            if (bias is null)
            {
                return output;
            }
            long channelDim = module is Linear ? output.dim() - 1 : 1;
            // In place: the layer's output is a fresh tensor that its own backward step does not need (dense layers and
            // convolutions keep their input and weight), so no second tensor of the output's size is made.
            return output.add_(LayerCompute.BroadcastBias(bias.Resolve(input.shape), output.dim(), channelDim), Scalars.One);
        }
    }

    private sealed class ConstantBias : BiasOverride, IDisposable
    {
        private readonly Tensor value;

        public ConstantBias(Tensor value) => this.value = value;

        public override Tensor Resolve(long[] inputShape) => value;

        public void Dispose() => value.Dispose();
    }

    private sealed class ComposedBias : BiasOverride, IDisposable
    {
        private readonly ShapeCache cache;

        public ComposedBias(Func<long[], Tensor> compute)
        {
            cache = new ShapeCache(shape =>
            {
                using var noGrad = no_grad();
                return compute(shape);
            });
        }

        public override Tensor Resolve(long[] inputShape) => cache.Get(inputShape);

        public void Dispose() => cache.Dispose();
    }

    /// <summary>Values computed once per input shape (the batch size does not matter).</summary>
    private sealed class ShapeCache : IDisposable
    {
        private readonly Func<long[], Tensor> compute;
        private readonly Dictionary<string, Tensor> values = new();
        private readonly object sync = new();

        public ShapeCache(Func<long[], Tensor> compute) => this.compute = compute;

        public Tensor Get(long[] shape)
        {
            string key = string.Join(",", shape.Skip(1));
            lock (sync)
            {
                if (!values.TryGetValue(key, out Tensor? value))
                {
                    using var scope = NewDisposeScope();
                    value = compute(shape).detach().MoveToOuterDisposeScope().DetachFromDisposeScope();
                    values[key] = value;
                }
                return value;
            }
        }

        public void Dispose()
        {
            lock (sync)
            {
                foreach (Tensor value in values.Values)
                {
                    value.Dispose();
                }
                values.Clear();
            }
        }
    }
}
