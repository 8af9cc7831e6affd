using RelevanceSharp.Core;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// The sum <c>P = W1 x+ + W2 x- + b</c> of a dense layer or convolution with two weight sets (for the rules that
/// split the input by sign: <c>W1 = W+</c>, <c>W2 = W-</c> for ZPlus and Gamma), and its input relevance
/// <c>x+ * W1^T s + x- * W2^T s</c> for an output gradient <c>s</c>. One layer call computes it: the channels of
/// <c>x+</c> that hold positive values and those of <c>x-</c> that hold negative ones are stacked along the channel
/// dimension with the matching input slices of the weights, so that a channel without negative values (the
/// thresholds of a ThreshReLU that are not negative, a ReLU's output) costs nothing in the second part, and one
/// backward step gives both parts' gradients. Grouped convolutions, whose weights cannot be sliced by input channel,
/// take one call per part.
/// <para>
/// Public for rules of your own: a <see cref="BasicRule.Shortcut"/> that, like ZPlus's and Gamma's, needs a sum of
/// two weight sets applied to the two signs of the input can compute it here in one layer call. Use it inside the
/// shortcut (the engine's dispose scope then frees its tensors) and only for layers <see cref="KnownSign.IsAffine"/>
/// accepts.
/// </para>
/// </summary>
public sealed class SignSplit
{
    private readonly Tensor x;
    private readonly ChannelSigns signs;
    private readonly List<Part> parts = new();

    private SignSplit(Tensor x, ChannelSigns signs)
    {
        this.x = x;
        this.signs = signs;
    }

    /// <summary>The sum <c>P</c>, attached to the graph of its layer call(s).</summary>
    public Tensor Output { get; private set; } = null!;

    /// <summary>
    /// Computes <c>P</c> for <paramref name="x"/> (detached from any graph). The weights are asked for only if their
    /// part is needed; <paramref name="bias"/> is added once.
    /// </summary>
    public static SignSplit Run(nn.Module<Tensor, Tensor> module, Tensor x, ChannelSigns signs,
        Func<Tensor> positiveWeight, Func<Tensor> negativeWeight, Tensor? bias, EngineCounters? counters = null)
    {
        var split = new SignSplit(x, signs) { Counters = counters };
        EngineCounters? stats = counters;
        if (signs.NonNegative || signs.NonPositive)
        {
            // The part is the whole input: no clamped copy. The other part is zero and costs nothing.
            stats?.ZeroInputTerms += 1;
            stats?.WholeInputs += 1;
            split.parts.Add(new Part(x.detach(), null, signs.NonNegative ? positiveWeight() : negativeWeight()));
        }
        else
        {
            split.parts.Add(Slice(x, signs, signs.Positive, positive: true, positiveWeight, module));
            split.parts.Add(Slice(x, signs, signs.Negative, positive: false, negativeWeight, module));
            stats?.SplitNegativeChannels += signs.Negative.Length;
        }
        using (enable_grad())
        {
            if (split.parts.Count == 1 || !Stacking.Ungrouped(module))
            {
                Tensor? total = null;
                for (int i = 0; i < split.parts.Count; i++)
                {
                    Part part = split.parts[i];
                    part.Input.requires_grad_(true);
                    Tensor output = LayerCompute.Forward(module, part.Input,
                        new Dictionary<string, Tensor?> { ["weight"] = part.Weight, ["bias"] = i == 0 ? bias : null });
                    stats?.LayerCalls += 1;
                    total = total is null ? output : total.add(output, Scalars.One);
                }
                split.Output = total!;
            }
            else
            {
                Tensor input = cat(split.parts.Select(p => p.Input).ToList(), signs.Dim).requires_grad_(true);
                Tensor weight = cat(split.parts.Select(p => p.Weight).ToList(), WeightInputDim(module));
                split.Output = LayerCompute.Forward(module, input, new Dictionary<string, Tensor?> { ["weight"] = weight, ["bias"] = bias });
                split.Stacked = input;
                stats?.LayerCalls += 1;
                stats?.SignSplitCalls += 1;
            }
        }
        return split;
    }

    private Tensor? Stacked { get; set; }

    private EngineCounters? Counters { get; init; }

    /// <summary><c>x+ * W1^T s + x- * W2^T s</c> for the output gradient <paramref name="seed"/> (one backward step).</summary>
    public Tensor Relevance(Tensor seed)
    {
        Counters?.Gradients += 1;
        var inputs = Stacked is null ? parts.Select(p => p.Input).ToList() : new List<Tensor> { Stacked };
        IList<Tensor> gradients = autograd.grad(new[] { Output }, inputs, new[] { seed });
        var pieces = new List<Tensor>();
        long offset = 0;
        for (int i = 0; i < parts.Count; i++)
        {
            Part part = parts[i];
            long width = part.Input.shape[signs.Dim];
            Tensor gradient = Stacked is null ? gradients[i] : gradients[0].narrow(signs.Dim, offset, width);
            offset += width;
            pieces.Add(part.Input.detach().mul(gradient));
        }
        Tensor result = parts[0].Channels is null ? pieces[0] : zeros_like(x);
        for (int i = 0; i < parts.Count; i++)
        {
            if (parts[i].Channels is { } channels)
            {
                result.index_add_(signs.Dim, channels, pieces[i], Scalars.Of(1));
            }
            else if (i > 0)
            {
                result.add_(pieces[i], Scalars.One);
            }
        }
        return result;
    }

    /// <summary>The dimension of a weight that runs over input channels.</summary>
    private static long WeightInputDim(nn.Module module) => module is ConvolutionTranspose ? 0 : 1;

    private static Part Slice(Tensor x, ChannelSigns signs, long[] channels, bool positive, Func<Tensor> weight, nn.Module module)
    {
        Tensor Clamp(Tensor t) => positive ? t.clamp_min(Scalars.Of(0.0)) : t.clamp_max(Scalars.Of(0.0));
        if (channels.Length == signs.Count || !Stacking.Ungrouped(module))
        {
            return new Part(Clamp(x), null, weight());
        }
        Tensor index = tensor(channels, ScalarType.Int64, x.device);
        return new Part(Clamp(x.index_select(signs.Dim, index)), index, weight().index_select(WeightInputDim(module), index));
    }

    /// <summary>One part: its input (a copy of the input's part, or the input itself), its channels (null: all) and weight.</summary>
    private sealed record Part(Tensor Input, Tensor? Channels, Tensor Weight);
}
