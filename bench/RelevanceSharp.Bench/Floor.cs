using System.Diagnostics;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp.Modules;
using static TorchSharp.torch;

/// <summary>
/// The least time EpsilonPlusFlat and EpsilonGammaBox can take against the gradient on this machine (<c>--floor</c>).
/// Every convolution and dense layer of one real forward pass is replayed alone, with its actual input. For the
/// gradient, that is the layer call and the gradient to its input. For the composites on the canonized model it is
/// the layer call, then the rule's own work: ZPlus is one more call, with the positive part of the channels that hold
/// positive values and <c>W+</c> and, stacked along the channels, the negative part of those that hold negative
/// values with <c>W-</c> (as the engine splits them, by <c>ChannelSigns</c>), and its gradient; Gamma is that
/// call with <c>W+</c> and <c>W-</c> scaled by gamma, its gradient and the gradient through the layer's own weights
/// (the engine's form, which takes both weight sets from that one call); Flat on the first layer is ones through
/// unit weights; ZBox on the first layer is three calls (input, lower and upper bound) and their gradients; Epsilon on
/// dense layers is the gradient through the layer's own weights. Copies, sign checks and the rules' element-wise steps
/// are left out. The floor is the gradient's measured time with its layer work swapped for the composite's: it
/// assumes LRP needs at least the rest of the gradient's work (pooling, concatenations, activations, the batch norm
/// or ThreshReLU).
/// </summary>
internal static class Floor
{
    /// <summary>The floors of one model and batch, in milliseconds, and what they are made of.</summary>
    public sealed record Result(double Gradient, double GradientLayers, Replay Box, Replay Flat)
    {
        public double BoxFloor => Gradient - GradientLayers + Box.Milliseconds;

        public double FlatFloor => Gradient - GradientLayers + Flat.Milliseconds;

        public string Describe(string name, int batch) =>
            $"{name} b{batch} floor: gradient {Gradient:F0} ms, of which layer calls {GradientLayers:F0} ms; " +
            $"layer calls of EpsilonGammaBox {Box.Milliseconds:F0} ms, of EpsilonPlusFlat {Flat.Milliseconds:F0} ms " +
            $"({Flat.NegativeShare:P0} of the input channels of ZPlus and Gamma hold negative values); " +
            $"floor egb_ratio={BoxFloor / Gradient:F2} epf_ratio={FlatFloor / Gradient:F2}";
    }

    /// <summary>Measures the floors of one model (in eval mode, not canonized) at one batch size.</summary>
    public static Result Measure(nn.Module<Tensor, Tensor> model, string canonizer, Tensor input)
    {
        using var scope = NewDisposeScope();
        var plain = new RelevanceSharp.Attribution.Gradient(model, null, RelevanceSharp.Attribution.AttributionTarget.Class(1));
        plain.Attribute(input).Dispose();
        double gradient = Enumerable.Range(0, 5).Min(_ => Timer.Once(() => plain.Attribute(input).Dispose()));
        var layers = new Replay(Work.Gradient);
        layers.Run(model, input);
        var flat = new Replay(Work.EpsilonPlusFlat);
        var box = new Replay(Work.EpsilonGammaBox);
        using (CanonizerRegistry.Create(canonizer).Apply(model))
        {
            flat.Run(model, input);
            box.Run(model, input);
        }
        return new Result(gradient, layers.Milliseconds, box, flat);
    }

    public enum Work
    {
        Gradient,
        EpsilonPlusFlat,
        EpsilonGammaBox,

        /// <summary>
        /// A transformer composite with Gamma on every dense layer and convolution: the layer's own call and one with
        /// <c>|x|</c> and <c>|W|</c> (the engine's form for inputs of both signs, which nearly every layer input of a
        /// transformer holds), each with its gradient.
        /// </summary>
        TransformerGamma,
    }

    /// <summary>Replays every layer of one forward pass alone and sums the minimum of five timings of each.</summary>
    /// <param name="work">What each layer's replay does.</param>
    /// <param name="convGamma">The gamma of convolutions for <see cref="Work.TransformerGamma"/>.</param>
    /// <param name="linearGamma">The gamma of dense layers for <see cref="Work.TransformerGamma"/>.</param>
    public sealed class Replay(Work work, double convGamma = 0.25, double linearGamma = 0.05)
    {
        private readonly Dictionary<nn.Module, string> names = new(ReferenceEqualityComparer.Instance);
        private bool first = true;
        private long channels;
        private long negativeChannels;

        public double Milliseconds { get; private set; }

        /// <summary>The floor of each convolution and dense layer, by its name in the model.</summary>
        public Dictionary<string, double> PerLayer { get; } = new();

        public double NegativeShare => channels == 0 ? 0 : (double)negativeChannels / channels;

        public void Run(nn.Module<Tensor, Tensor> model, Tensor input)
        {
            // A canonizer rewrites the model at its first forward pass, after tracing it and checking the rewrite
            // (more forward passes): that pass runs before the hooks are in place.
            using (var warmup = NewDisposeScope())
            using (no_grad())
            {
                model.call(input);
            }
            foreach (var (name, module) in model.named_modules())
            {
                names.TryAdd(module, name);
            }
            var hooks = model.modules().OfType<nn.Module<Tensor, Tensor>>().Where(m => m is Convolution or Linear)
                .Select(m => m.register_forward_hook(Time)).ToList();
            try
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                model.call(input);
            }
            finally
            {
                hooks.ForEach(h => h.remove());
            }
        }

        private Tensor Time(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            using var scope = NewDisposeScope();
            IReadOnlyDictionary<string, Tensor?> own = LayerParameters.Effective(module, input.shape);
            Tensor weight = own["weight"]!;
            Tensor? bias = own.GetValueOrDefault("bias");
            Tensor seed = randn_like(output);
            // The calls whose gradients the rule takes. A call with the layer's own input and weights stands for the
            // forward pass's call and the gradient through it; without one, the forward pass's call is timed alone.
            var calls = new List<(Tensor Input, Tensor Weight)>();
            if (work == Work.TransformerGamma)
            {
                ChannelSigns signs = ChannelSigns.OfLayerInput(module, input);
                channels += signs.Count;
                negativeChannels += signs.Negative.Length;
                calls.Add((input, weight));
                calls.Add((input.abs(), weight.abs().mul(Scalars.Of(module is Convolution ? convGamma : linearGamma))));
            }
            else if (work != Work.Gradient && module is Convolution && first)
            {
                if (work == Work.EpsilonPlusFlat)
                {
                    calls.Add((ones_like(input), ones_like(weight)));
                }
                else
                {
                    calls.Add((input, weight));
                    calls.Add((full_like(input, Scalars.Of(-3.0)), weight.clamp_min(Scalars.Of(0.0))));
                    calls.Add((full_like(input, Scalars.Of(3.0)), weight.clamp_max(Scalars.Of(0.0))));
                }
            }
            else if (work != Work.Gradient && module is Convolution)
            {
                calls.Add(StackedBySign(module, input, weight, work == Work.EpsilonGammaBox ? 0.25 : 1.0));
                if (work == Work.EpsilonGammaBox)
                {
                    calls.Add((input, weight));
                }
            }
            else
            {
                calls.Add((input, weight));
            }
            first = false;
            double best = double.MaxValue;
            for (int i = 0; i < 5; i++)
            {
                using var inner = NewDisposeScope();
                var clock = Stopwatch.StartNew();
                if (!calls.Any(c => ReferenceEquals(c.Input, input)))
                {
                    // The forward pass's own call, where no gradient goes through it.
                    LayerCompute.Forward(module, input, own);
                }
                foreach (var (callInput, callWeight) in calls)
                {
                    CallAndGradient(module, callInput, callWeight, bias, seed);
                }
                best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
            }
            Milliseconds += best;
            string layer = names.GetValueOrDefault(module) ?? module.GetName();
            PerLayer[layer] = PerLayer.GetValueOrDefault(layer) + best;
            return output;
        }

        /// <summary>
        /// The engine's split of a layer input by the signs its channels (input features) hold: the positive parts with
        /// <c>g W+</c>, stacked along the channels with the negative parts with <c>g W-</c>.
        /// </summary>
        private (Tensor Input, Tensor Weight) StackedBySign(nn.Module module, Tensor input, Tensor weight, double gamma)
        {
            ChannelSigns signs = ChannelSigns.OfLayerInput(module, input);
            long inputDim = module is Convolution ? 1 : input.dim() - 1;
            channels += signs.Count;
            negativeChannels += signs.Negative.Length;
            var parts = new (long[] Channels, bool Positive)[] { (signs.Positive, true), (signs.Negative, false) }
                .Where(p => p.Channels.Length > 0).ToList();
            Tensor Part(Tensor t, long dim, long[] picked, bool positive)
            {
                Tensor selected = t.index_select(dim, tensor(picked, ScalarType.Int64, t.device));
                return positive ? selected.clamp_min(Scalars.Of(0.0)) : selected.clamp_max(Scalars.Of(0.0));
            }
            Tensor stackedInput = cat(parts.Select(p => Part(input, inputDim, p.Channels, p.Positive)).ToList(), inputDim);
            Tensor stackedWeight = cat(parts.Select(p => Part(weight, 1, p.Channels, p.Positive).mul(Scalars.Of(gamma))).ToList(), 1);
            return (stackedInput, stackedWeight);
        }

        /// <summary>A layer call with the given weights and the gradient of its output to its input.</summary>
        private static void CallAndGradient(nn.Module<Tensor, Tensor> module, Tensor input, Tensor weight, Tensor? bias, Tensor seed)
        {
            using var grad = enable_grad();
            Tensor leaf = input.detach().requires_grad_(true);
            Tensor output = LayerCompute.Forward(module, leaf, new Dictionary<string, Tensor?> { ["weight"] = weight, ["bias"] = bias });
            autograd.grad(new[] { output }, new[] { leaf }, new[] { seed });
        }
    }
}
