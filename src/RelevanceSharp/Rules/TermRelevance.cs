using RelevanceSharp.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// First-order relevance of a rule built from <see cref="RuleTerm"/>s, computed with as little work as the terms
/// allow, and equal (up to rounding) to recomputing every term:
/// <list type="bullet">
/// <item>A term that feeds the layer its own input with its own parameters (bias possibly zeroed) takes its output
/// from the forward pass and its gradient from the forward pass's graph: no recomputation.</item>
/// <item>A term whose input is zero everywhere (checked once per call, e.g. the negative part after a ReLU) outputs
/// only its bias and contributes no relevance: no layer call, no gradient.</item>
/// <item>Terms that share an input run as one layer call with their weights stacked along the output channels, and
/// their gradients come back from one backward step.</item>
/// <item>Terms with coefficient zero take no gradient.</item>
/// <item>ZPlus and Gamma on dense layers and convolutions need only the sum <c>W+ x+ + W- x-</c> besides the forward
/// pass: one layer call with both parts of the input stacked along the channels, each part restricted to the
/// channels that hold values of its sign (<see cref="SignSplit"/>).</item>
/// </list>
/// </summary>
internal static class TermRelevance
{
    /// <summary>What the last computations on this thread did (for tests and profiling).</summary>
    [ThreadStatic]
    private static Counters? counters;

    /// <summary>The counters of this thread.</summary>
    public static Counters Stats => counters ??= new Counters();

    /// <summary>Counts of the work done and the work avoided.</summary>
    public sealed class Counters
    {
        /// <summary>Terms served by the forward pass's output and graph.</summary>
        public int NaturalTerms { get; set; }

        /// <summary>Terms skipped because their input was zero everywhere.</summary>
        public int ZeroInputTerms { get; set; }

        /// <summary>Term inputs used as they are because the part (e.g. the positive one) was the whole input.</summary>
        public int WholeInputs { get; set; }

        /// <summary>Gamma calls computed from the forward output and one convolution with the positive weights.</summary>
        public int GammaFromOutput { get; set; }

        /// <summary>ZPlus calls computed from one layer call with the stabilizer in its bias.</summary>
        public int ZPlusInOneCall { get; set; }

        /// <summary>Layer calls whose input stacked the positive and the negative part of a layer input.</summary>
        public int SignSplitCalls { get; set; }

        /// <summary>Channels that entered such calls with their negative part.</summary>
        public int SplitNegativeChannels { get; set; }

        /// <summary>Layer calls made to compute terms (a stacked call counts once).</summary>
        public int LayerCalls { get; set; }

        /// <summary>Layer calls that computed several terms at once.</summary>
        public int StackedCalls { get; set; }

        /// <summary>Gradients taken (backward steps through the forward pass or a recomputation).</summary>
        public int Gradients { get; set; }

        /// <summary>Sets every count to zero.</summary>
        public void Reset() =>
            NaturalTerms = ZeroInputTerms = WholeInputs = GammaFromOutput = ZPlusInOneCall = SignSplitCalls = SplitNegativeChannels =
            LayerCalls = StackedCalls = Gradients = 0;
    }

    public static Tensor Compute(BasicRule rule, IReadOnlyList<RuleTerm> terms, RuleCall call, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        nn.Module<Tensor, Tensor> module = call.Module;
        Tensor x = call.Input.detach();
        Tensor y = call.Output.detach();
        IReadOnlyDictionary<string, Tensor?> effective = LayerParameters.Effective(module, x.shape);
        Tensor? bias = effective.TryGetValue("bias", out Tensor? b) ? b : null;
        long channelDim = module is Linear ? y.dim() - 1 : 1;
        var signs = new SignCheck(x);

        if (rule is Gamma gamma && GammaFromOutput.Applies(gamma, terms, module, effective))
        {
            return GammaFromOutput.Compute(gamma, call, gradOutput, x, y, bias, effective["weight"]!, channelDim)
                .detach().MoveToOuterDisposeScope();
        }
        if (rule is ZPlus zPlus && ZPlusInOneCall.Applies(zPlus, module, effective))
        {
            return ZPlusInOneCall.Compute(zPlus, terms, call, gradOutput, x, y, effective, channelDim)
                .detach().MoveToOuterDisposeScope();
        }

        int count = terms.Count;
        var outputs = new Tensor[count];
        var natural = new List<int>();
        var groups = new Dictionary<object, List<int>>();
        for (int k = 0; k < count; k++)
        {
            RuleTerm term = terms[k];
            if (term.Input == TermInput.Same && UsesOwnWeights(term.Parameters))
            {
                outputs[k] = term.Parameters.Zeroes("bias") ? WithoutBias(y, bias, channelDim) : y;
                natural.Add(k);
                Stats.NaturalTerms++;
            }
            else if (signs.IsZero(term.Input))
            {
                Stats.ZeroInputTerms++;
                // Only the (modified) bias is left: a broadcast view of it, no tensor of the output's size.
                Tensor? termBias = term.Parameters.ModifyOne("bias", bias);
                outputs[k] = BiasOnly(termBias, y, channelDim);
            }
            else
            {
                // Terms of kind Other each have their own input; the others share theirs by kind.
                object key = term.Input == TermInput.Other ? k : term.Input;
                if (!groups.TryGetValue(key, out List<int>? members))
                {
                    members = new List<int>();
                    groups[key] = members;
                }
                members.Add(k);
            }
        }

        var computed = new List<(Tensor Input, Tensor Output, IReadOnlyList<int> Members)>();
        using (enable_grad())
        {
            foreach (List<int> members in groups.Values)
            {
                // Where the sign check showed the part to be the whole input (the positive part after a ReLU), the
                // input serves as it is instead of a clamped copy.
                RuleTerm first = terms[members[0]];
                bool whole = signs.IsWhole(first.Input);
                Stats.WholeInputs += whole ? 1 : 0;
                Tensor input = (whole ? x : first.InputFor(x)).detach().requires_grad_(true);
                var parameters = members.Select(k => terms[k].Parameters.Apply(module, effective)).ToList();
                if (members.Count > 1 && Stacking.CanStack(module, parameters))
                {
                    Tensor stacked = Stacking.Forward(module, input, parameters);
                    Stats.LayerCalls++;
                    Stats.StackedCalls++;
                    for (int i = 0; i < members.Count; i++)
                    {
                        outputs[members[i]] = Stacking.Part(module, stacked, i, members.Count);
                    }
                    computed.Add((input, stacked, members));
                }
                else
                {
                    for (int i = 0; i < members.Count; i++)
                    {
                        Tensor output = LayerCompute.Forward(module, input, parameters[i]);
                        Stats.LayerCalls++;
                        outputs[members[i]] = output;
                        computed.Add((input, output, new[] { members[i] }));
                    }
                }
            }
        }

        IReadOnlyList<Tensor> mapped = rule.GradientMapper(gradOutput, outputs);
        Tensor? relevance = null;
        Tensor? Weighted(int k) => Weight(terms[k], mapped[k]);

        Tensor? naturalWeight = Sum(natural.Select(Weighted));
        if (naturalWeight is not null)
        {
            relevance = Add(relevance, x * call.NaturalGradient(naturalWeight));
            Stats.Gradients++;
        }
        foreach (var (input, output, members) in computed)
        {
            Tensor?[] weights = members.Select(Weighted).ToArray();
            if (weights.All(w => w is null))
            {
                continue;
            }
            Tensor seed = members.Count == 1
                ? weights[0]!
                : Stacking.Join(module, weights.Select((w, i) => w ?? zeros_like(outputs[members[i]])).ToList());
            if (!output.requires_grad)
            {
                throw new InvalidOperationException(
                    $"Rule {rule} recomputed {module.Describe()} and got an output without a graph to its input.");
            }
            Tensor gradient = autograd.grad(new[] { output }, new[] { input }, new[] { seed }, allow_unused: true)[0];
            Stats.Gradients++;
            if (gradient is not null && !gradient.IsInvalid)
            {
                relevance = Add(relevance, input.detach() * gradient);
            }
        }
        return (relevance ?? zeros_like(x)).detach().MoveToOuterDisposeScope();
    }

    /// <summary>Whether a term keeps the layer's weights (zeroing at most the bias), so the forward pass serves it.</summary>
    private static bool UsesOwnWeights(ParameterModifier parameters) => parameters.KeepsValues && ZeroesAtMostBias(parameters);

    /// <summary>Whether a modifier zeroes no parameter other than the bias.</summary>
    internal static bool ZeroesAtMostBias(ParameterModifier parameters) =>
        parameters.ZeroParameters is null || parameters.ZeroParameters.All(name => name == "bias");

    /// <summary>The output gradient of a term weighted by its coefficient; <c>null</c> for coefficient zero.</summary>
    internal static Tensor? Weight(RuleTerm term, Tensor mapped) =>
        term.Coefficient == 0.0 ? null : term.Coefficient == 1.0 ? mapped : mapped * term.Coefficient;

    /// <summary>A layer's output less its bias (the output itself for a layer without one).</summary>
    internal static Tensor WithoutBias(Tensor output, Tensor? bias, long channelDim) =>
        bias is null ? output : output - LayerCompute.BroadcastBias(bias, output.dim(), channelDim);

    /// <summary>What a term with a zero input outputs: its bias broadcast to the output's shape (zero without one).</summary>
    internal static Tensor BiasOnly(Tensor? bias, Tensor output, long channelDim) => bias is null
        ? TermOutputs.Zero(output)
        : LayerCompute.BroadcastBias(bias, output.dim(), channelDim).expand(output.shape);

    private static Tensor? Sum(IEnumerable<Tensor?> tensors)
    {
        Tensor? total = null;
        foreach (Tensor? tensor in tensors)
        {
            total = tensor is null ? total : Add(total, tensor);
        }
        return total;
    }

    private static Tensor Add(Tensor? total, Tensor value) => total is null ? value : total + value;

    /// <summary>Whether the input is non-negative or non-positive everywhere, each checked at most once.</summary>
    private sealed class SignCheck
    {
        private readonly Tensor x;
        private bool? nonNegative;
        private bool? nonPositive;

        public SignCheck(Tensor x) => this.x = x;

        public bool IsZero(TermInput kind) => kind switch
        {
            // One reduction, no mask tensor. (A NaN makes the extreme NaN, so neither shortcut is taken.)
            TermInput.NegativePart => nonNegative ??= x.numel() == 0 || x.min().ge(0.0).item<bool>(),
            TermInput.PositivePart => nonPositive ??= x.numel() == 0 || x.max().le(0.0).item<bool>(),
            _ => false,
        };

        /// <summary>
        /// Whether a part of the input is known, from a check already made, to equal the whole input (the positive
        /// part of a non-negative input). Makes no new check: a failed one would cost as much as the part itself.
        /// </summary>
        public bool IsWhole(TermInput kind) => kind switch
        {
            TermInput.PositivePart => nonNegative == true,
            TermInput.NegativePart => nonPositive == true,
            _ => false,
        };
    }
}

/// <summary>Runs several weight sets of one layer as a single call, their outputs side by side along the channels.</summary>
internal static class Stacking
{
    /// <summary>Whether the layer and parameter sets allow stacking (dense layers and ungrouped convolutions).</summary>
    public static bool CanStack(nn.Module module, IReadOnlyList<IReadOnlyDictionary<string, Tensor?>> parameters)
    {
        if (!Ungrouped(module))
        {
            return false;
        }
        long[]? shape = null;
        foreach (var set in parameters)
        {
            if (!set.TryGetValue("weight", out Tensor? weight) || weight is null || set.Count > 2)
            {
                return false;
            }
            shape ??= weight.shape;
            if (!shape.SequenceEqual(weight.shape))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Whether every output channel of the layer reads every input channel (dense layers, ungrouped convolutions), so
    /// that weight sets can be joined along either channel dimension.
    /// </summary>
    public static bool Ungrouped(nn.Module module) => module switch
    {
        Linear => true,
        Convolution convolution => convolution.groups == 1,
        _ => false,
    };

    /// <summary>The layer applied with all weight sets at once.</summary>
    public static Tensor Forward(nn.Module<Tensor, Tensor> module, Tensor input, IReadOnlyList<IReadOnlyDictionary<string, Tensor?>> parameters)
    {
        // Output channels sit in dimension 0 of dense and convolution weights, in dimension 1 of transposed ones.
        long weightDim = module is ConvolutionTranspose ? 1 : 0;
        Tensor weight = cat(parameters.Select(p => p["weight"]!).ToList(), weightDim);
        long channels = parameters[0]["weight"]!.shape[weightDim];
        var biases = parameters.Select(p => p.TryGetValue("bias", out Tensor? value) ? value : null).ToList();
        Tensor? bias = null;
        if (biases.Any(v => v is not null))
        {
            Tensor? map = biases.FirstOrDefault(v => v is not null && v.dim() > 1);
            var filled = biases.Select(v =>
            {
                Tensor vector = v ?? zeros(channels, weight.dtype, weight.device);
                return map is null || vector.dim() > 1
                    ? vector
                    : vector.view(new long[] { channels }.Concat(Enumerable.Repeat(1L, (int)map.dim() - 1)).ToArray()).expand(map.shape);
            }).ToList();
            bias = cat(filled, 0);
        }
        return LayerCompute.Forward(module, input, new Dictionary<string, Tensor?> { ["weight"] = weight, ["bias"] = bias });
    }

    /// <summary>The output of weight set <paramref name="index"/> out of <paramref name="count"/> stacked ones.</summary>
    public static Tensor Part(nn.Module module, Tensor stacked, int index, int count)
    {
        long dim = module is Linear ? stacked.dim() - 1 : 1;
        long size = stacked.shape[dim] / count;
        return stacked.narrow(dim, index * size, size);
    }

    /// <summary>Per-set output gradients joined in the stacked layout.</summary>
    public static Tensor Join(nn.Module module, IReadOnlyList<Tensor> parts)
    {
        long dim = module is Linear ? parts[0].dim() - 1 : 1;
        return cat(parts.ToList(), dim);
    }
}

/// <summary>
/// Term outputs known to be zero everywhere (a term whose input is zero and which has no bias): broadcast views that
/// cost no memory, which sums of term outputs skip instead of adding.
/// </summary>
internal static class TermOutputs
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Tensor, object> Zeros = new();

    /// <summary>A zero of <paramref name="like"/>'s shape, dtype and device, marked as known zero.</summary>
    public static Tensor Zero(Tensor like)
    {
        Tensor zero = zeros(1, like.dtype, like.device).expand(like.shape);
        Zeros.AddOrUpdate(zero, Zeros);
        return zero;
    }

    /// <summary>Whether a tensor is a zero made by <see cref="Zero"/>.</summary>
    public static bool IsKnownZero(Tensor tensor) => Zeros.TryGetValue(tensor, out _);

    /// <summary><c>a + b</c>, skipping a known-zero summand (the other is returned as it is, not copied).</summary>
    public static Tensor Sum(Tensor a, Tensor b) => IsKnownZero(b) ? a : IsKnownZero(a) ? b : a + b;
}

/// <summary>
/// Layers whose output is their weight applied to the input plus the bias (dense layers and convolutions): with
/// non-negative weights, bias and input, the output is non-negative, so the sign of a denominator is known
/// without looking at it.
/// </summary>
internal static class KnownSign
{
    public static bool IsAffine(nn.Module module, IReadOnlyDictionary<string, Tensor?> effective) =>
        module is Linear or Convolution && effective.TryGetValue("weight", out Tensor? weight) && weight is not null;

    /// <summary>
    /// <paramref name="bias"/> (a vector over output channels or a map, or none) plus <paramref name="shift"/>: the
    /// bias that makes the layer add the stabilizer of a denominator known to be non-negative.
    /// </summary>
    public static Tensor ShiftedBias(Tensor? bias, double shift, Tensor output, long channelDim) => bias is null
        ? full(output.shape[channelDim], shift, output.dtype, output.device)
        : bias + shift;
}

/// <summary>
/// ZPlus on a dense layer or convolution. Its denominator <c>W+ x+ + W- x- + b+</c> is a sum of non-negative
/// products and a non-negative bias (the negative-input term's bias is always zeroed), so the plain stabilizer adds
/// exactly epsilon: that goes into the bias of one layer call (<see cref="SignSplit"/>: both parts of the input
/// stacked, or the one part there is after a ReLU), and the relevance <c>x+ * W+^T (g / z) + x- * W-^T (g / z)</c>
/// comes from one backward step.
/// </summary>
internal static class ZPlusInOneCall
{
    public static bool Applies(ZPlus rule, nn.Module module, IReadOnlyDictionary<string, Tensor?> effective) =>
        rule.Stabilizer.ConstantShift is not null && KnownSign.IsAffine(module, effective);

    public static Tensor Compute(ZPlus rule, IReadOnlyList<RuleTerm> terms, RuleCall call, Tensor gradOutput, Tensor x, Tensor y,
        IReadOnlyDictionary<string, Tensor?> effective, long channelDim)
    {
        TermRelevance.Stats.ZPlusInOneCall++;
        nn.Module<Tensor, Tensor> module = call.Module;
        IReadOnlyDictionary<string, Tensor?> positive = terms[0].Parameters.Apply(module, effective);
        Tensor bias = KnownSign.ShiftedBias(positive.GetValueOrDefault("bias"), rule.Stabilizer.ConstantShift!.Value, y, channelDim);
        var split = SignSplit.Run(module, x, ChannelSigns.OfLayerInput(module, x),
            () => positive["weight"]!, () => terms[1].Parameters.Apply(module, effective)["weight"]!, bias);
        return split.Relevance(gradOutput / split.Output.detach());
    }
}

/// <summary>
/// The Gamma rule on a dense layer or convolution from the forward output and one more layer call. Its weights are
/// <c>W + g W+</c> on <c>x+</c> and <c>W + g W-</c> on <c>x-</c> for positive outputs, the other way round for
/// negative ones (biases alike, the negative-input terms' zeroed). With <c>y = Wx + b</c> (the forward output) and
/// <c>P = g (W+ x+ + W- x- + b+)</c>, which cannot be negative, the denominators are <c>y + P</c> where
/// <c>y &gt; 0</c> (so positive) and <c>(1 + g) y - P</c> where <c>y &lt; 0</c> (so negative), because
/// <c>W- x+ + W+ x- = Wx - (W+ x+ + W- x-)</c>: the stabilizer adds epsilon to <c>P</c>, in its bias. With <c>s</c>
/// the output gradient over the denominator, zero where <c>y = 0</c>, the relevance is
/// <c>x * W^T (s + g s-) + g (x+ * W+^T u + x- * W-^T u)</c> with <c>u = s+ - s-</c>: one backward step through the
/// forward pass's graph and one through <c>P</c> (<see cref="SignSplit"/>, which computes it in one call, or with the
/// one part there is after a ReLU). Equal to the term-by-term computation up to rounding.
/// </summary>
internal static class GammaFromOutput
{
    /// <summary>
    /// Whether the rule's terms are Gamma's own with the bias kept (zeroing it would leave the denominators' signs
    /// unknown), gamma is not negative (a negative one would not keep <c>P</c> non-negative), the stabilizer is a
    /// plain shift and the layer is a dense layer or a convolution.
    /// </summary>
    public static bool Applies(Gamma rule, IReadOnlyList<RuleTerm> terms, nn.Module module, IReadOnlyDictionary<string, Tensor?> effective) =>
        rule.GammaValue >= 0.0 && rule.Stabilizer.ConstantShift is not null && KnownSign.IsAffine(module, effective)
        && terms.Count == 5 && terms[0].Input == TermInput.PositivePart && terms[2].Input == TermInput.PositivePart
        && terms[4].Input == TermInput.Same && terms[4].Coefficient == 0.0
        && terms.Take(4).All(t => TermRelevance.ZeroesAtMostBias(t.Parameters))
        && (effective.GetValueOrDefault("bias") is null || !terms[0].Parameters.Zeroes("bias") && !terms[2].Parameters.Zeroes("bias"));

    public static Tensor Compute(Gamma rule, RuleCall call, Tensor gradOutput, Tensor x, Tensor y, Tensor? bias, Tensor weight, long channelDim)
    {
        double gamma = rule.GammaValue;
        var stats = TermRelevance.Stats;
        stats.GammaFromOutput++;
        stats.NaturalTerms++;

        nn.Module<Tensor, Tensor> module = call.Module;
        Tensor shiftedBias = KnownSign.ShiftedBias(bias?.clamp_min(0.0).mul_(gamma), rule.Stabilizer.ConstantShift!.Value, y, channelDim);
        var split = SignSplit.Run(module, x, ChannelSigns.OfLayerInput(module, x),
            () => weight.clamp_min(0.0).mul_(gamma), () => weight.clamp_max(0.0).mul_(gamma), shiftedBias);
        Tensor p = split.Output.detach();
        // Selections by the sign of y in float arithmetic (boolean masks and where() cost several times a plain
        // pass): with sign = sign(y) and nonzero = |sign|, the denominator is y + sign * P + g * min(y, 0), that is
        // y + P where y > 0 and (1 + g) y - P where y < 0; where y = 0 it is set to 1 and the gradient to 0.
        Tensor sign = y.sign();
        Tensor nonzero = sign.abs();
        Tensor denominator = sign.mul(p).add_(y).add_(y.clamp_max(0.0), gamma).add_(nonzero.neg().add_(1.0));
        Tensor quotient = gradOutput.mul(nonzero).div_(denominator);
        // Seeds: s (1 + g) where y < 0 and s elsewhere through the layer; s where y > 0 and -s where y < 0 through P.
        Tensor throughLayer = call.NaturalGradient(quotient.add(quotient.mul(sign.clamp_max(0.0)), -gamma));
        stats.Gradients++;
        return throughLayer.mul_(x).add_(split.Relevance(quotient.mul_(sign)));
    }
}
