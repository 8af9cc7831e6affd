using RelevanceSharp.Core;
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
    public static Tensor Compute(BasicRule rule, IReadOnlyList<RuleTerm> terms, RuleCall call, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        EngineCounters? stats = call.Activity.Counters;
        nn.Module<Tensor, Tensor> module = call.Module;
        Tensor x = call.Input.detach();
        Tensor y = call.Output.detach();
        IReadOnlyDictionary<string, Tensor?> effective = LayerParameters.Effective(module, x.shape);
        Tensor? bias = effective.TryGetValue("bias", out Tensor? b) ? b : null;
        // A zero input makes the output the bias only in layers that apply their weights linearly to the input.
        bool affine = KnownSign.IsAffine(module, effective);
        var signs = new SignCheck(x);

        // A rule may know a faster way for this call (ZPlus and Gamma on dense layers and convolutions).
        if (rule.TryShortcut(call, gradOutput, new LayerCall(module, x, y, effective)) is { } fast)
        {
            return fast.detach().MoveToOuterDisposeScope();
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
                outputs[k] = term.Parameters.Zeroes("bias") ? WithoutBias(module, y, bias) : y;
                natural.Add(k);
                stats?.NaturalTerms += 1;
            }
            else if (affine && signs.IsZero(term.Input))
            {
                stats?.ZeroInputTerms += 1;
                // Only the (modified) bias is left: a broadcast view of it, no tensor of the output's size.
                Tensor? termBias = term.Parameters.ModifyOne("bias", bias);
                outputs[k] = BiasOnly(module, termBias, y);
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
                stats?.WholeInputs += whole ? 1 : 0;
                Tensor input = (whole ? x : first.InputFor(x)).detach().requires_grad_(true);
                var parameters = members.Select(k => terms[k].Parameters.Apply(module, effective)).ToList();
                if (members.Count > 1 && Stacking.CanStack(module, parameters))
                {
                    Tensor stacked = Stacking.Forward(module, input, parameters);
                    stats?.LayerCalls += 1;
                    stats?.StackedCalls += 1;
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
                        stats?.LayerCalls += 1;
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
            stats?.Gradients += 1;
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
            stats?.Gradients += 1;
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
        term.Coefficient == 0.0 ? null : term.Coefficient == 1.0 ? mapped : mapped.mul(Scalars.Of(term.Coefficient));

    /// <summary>A layer's output less its bias (the output itself for a layer without one).</summary>
    internal static Tensor WithoutBias(nn.Module module, Tensor output, Tensor? bias) =>
        bias is null ? output : output - LayerCompute.BiasFor(module, bias, output);

    /// <summary>What a term with a zero input outputs: its bias broadcast to the output's shape (zero without one).</summary>
    internal static Tensor BiasOnly(nn.Module module, Tensor? bias, Tensor output) => bias is null
        ? TermOutputs.Zero(output)
        : LayerCompute.BiasFor(module, bias, output).expand(output.shape);

    private static Tensor? Sum(IEnumerable<Tensor?> tensors)
    {
        Tensor? total = null;
        foreach (Tensor? tensor in tensors)
        {
            total = tensor is null ? total : Add(total, tensor);
        }
        return total;
    }

    private static Tensor Add(Tensor? total, Tensor value) => total is null ? value : total.add(value, Scalars.One);

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
            TermInput.NegativePart => nonNegative ??= x.numel() == 0 || x.min().ge(Scalars.Of(0.0)).item<bool>(),
            TermInput.PositivePart => nonPositive ??= x.numel() == 0 || x.max().le(Scalars.Of(0.0)).item<bool>(),
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
