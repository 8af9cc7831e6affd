using System.Diagnostics;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

/// <summary>
/// The least time EpsilonPlusFlat can take against the gradient on this machine (<c>--floor</c>). Every
/// convolution and dense layer of one real forward pass is replayed alone, with its actual input: for the gradient,
/// the layer call and the gradient to its input; for EpsilonPlusFlat on the canonized model, the layer call, then
/// the rule's own layer call and the gradient to its input (ZPlus: the positive part of the input with <c>W+</c> and,
/// stacked along the channels, its negative channels with <c>W-</c>; Flat on the first layer: ones through unit
/// weights; Epsilon on dense layers: the layer's own weights). Copies, sign checks and element-wise steps are left
/// out. The floor is the gradient's measured time with its layer work replaced by the rule's: it assumes LRP needs at
/// least the rest of the gradient's work (pooling, concatenations, activations, the batch norm or ThreshReLU).
/// </summary>
internal static class Floor
{
    public static void Run(BenchOptions options)
    {
        foreach (string name in options.Models)
        {
            string canonizer = name.StartsWith("densenet", StringComparison.Ordinal) ? "densenet_seq_thresh"
                : name.StartsWith("resnet", StringComparison.Ordinal) ? "resnet" : "vgg";
            using ZooModel model = ModelZoo.Create(name);
            if (!options.DefaultStatistics)
            {
                Statistics.MakeTrainedLike(model);
            }
            model.eval();
            foreach (int batch in options.Batches)
            {
                using var scope = NewDisposeScope();
                Tensor input = randn(batch, 3, 224, 224);
                var plain = new RelevanceSharp.Attribution.Gradient(model, null, RelevanceSharp.Attribution.AttributionTarget.Class(1));
                plain.Attribute(input).Dispose();
                double gradient = Enumerable.Range(0, 5).Min(_ => Timer.Once(() => plain.Attribute(input).Dispose()));
                var layers = new Replay(rules: false);
                layers.Run(model, input);
                var rules = new Replay(rules: true);
                using (CanonizerRegistry.Create(canonizer).Apply(model))
                {
                    rules.Run(model, input);
                }
                double floor = gradient - layers.Milliseconds + rules.Milliseconds;
                Console.WriteLine($"{name} b{batch} floor: gradient {gradient:F0} ms, of which layer calls {layers.Milliseconds:F0} ms; " +
                    $"EpsilonPlusFlat layer calls {rules.Milliseconds:F0} ms ({rules.NegativeShare:P0} of the ZPlus input channels " +
                    $"hold negative values); floor {floor:F0} ms = {floor / gradient:F2}x the gradient");
            }
        }
    }

    /// <summary>Replays every layer of one forward pass alone and sums the minimum of five timings of each.</summary>
    private sealed class Replay(bool rules)
    {
        private bool first = true;
        private long channels;
        private long negativeChannels;

        public double Milliseconds { get; private set; }

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
            Tensor ruleInput = input;
            Tensor ruleWeight = weight;
            bool extraCall = rules && module is Convolution;
            if (extraCall && first)
            {
                ruleInput = ones_like(input);
                ruleWeight = ones_like(weight);
            }
            else if (extraCall)
            {
                // ZPlus: channels with negative values join the call a second time, with the negative weights.
                long[] others = Enumerable.Range(0, (int)input.dim()).Where(d => d != 1).Select(d => (long)d).ToArray();
                bool[] negative = input.amin(others).lt(0.0).cpu().data<bool>().ToArray();
                long[] picked = Enumerable.Range(0, negative.Length).Where(i => negative[i]).Select(i => (long)i).ToArray();
                channels += negative.Length;
                negativeChannels += picked.Length;
                ruleInput = input.clamp_min(0.0);
                ruleWeight = weight.clamp_min(0.0);
                if (picked.Length > 0)
                {
                    Tensor index = tensor(picked, ScalarType.Int64, input.device);
                    ruleInput = cat(new[] { ruleInput, input.index_select(1, index).clamp_max(0.0) }, 1);
                    ruleWeight = cat(new[] { ruleWeight, weight.index_select(1, index).clamp_max(0.0) }, 1);
                }
            }
            first = false;
            double best = double.MaxValue;
            for (int i = 0; i < 5; i++)
            {
                using var inner = NewDisposeScope();
                var clock = Stopwatch.StartNew();
                if (extraCall)
                {
                    // The forward pass's own call, then the rule's call and its gradient.
                    LayerCompute.Forward(module, input, own);
                    CallAndGradient(module, ruleInput, ruleWeight, bias, seed);
                }
                else
                {
                    // The forward pass's call and the gradient through the layer's own weights.
                    CallAndGradient(module, input, weight, bias, seed);
                }
                best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
            }
            Milliseconds += best;
            return output;
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
