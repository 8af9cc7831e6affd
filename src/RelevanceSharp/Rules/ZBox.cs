using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// LRP-z^B for a bounded input domain [low, high], usually the first layer on pixel data. <c>low</c> and
/// <c>high</c> are scalars or tensors that broadcast to the input (e.g. per channel, shape <c>(1, C, 1, 1)</c>); a
/// tensor with a larger batch than the input is cut to the input's batch.
/// </summary>
public sealed class ZBox : BasicRule
{
    /// <summary>Creates the rule with scalar bounds.</summary>
    public ZBox(double low, double high, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : this((Keep(tensor(low, ScalarType.Float64)), Keep(tensor(high, ScalarType.Float64))), stabilizer, zeroParameters)
    {
    }

    /// <summary>Creates the rule with tensor bounds (copied, so the caller may dispose them).</summary>
    public ZBox(Tensor low, Tensor high, Stabilizer? stabilizer = null, IReadOnlyList<string>? zeroParameters = null)
        : this((Keep(low), Keep(high)), stabilizer, zeroParameters)
    {
    }

    private ZBox((Tensor Low, Tensor High) bounds, Stabilizer? stabilizer, IReadOnlyList<string>? zeroParameters)
        : base(
            new[]
            {
                new RuleTerm(TermInput.Same, ParameterModifier.Unmodified(zeroParameters)),
                new RuleTerm(TermInput.Other, ParameterModifier.Clamp(min: 0.0, zeroParameters: zeroParameters), -1.0,
                    x => TensorShapes.Expand(bounds.Low, x.shape, cutBatch: true).to(x.dtype, x.device)),
                new RuleTerm(TermInput.Other, ParameterModifier.Clamp(max: 0.0, zeroParameters: zeroParameters), -1.0,
                    x => TensorShapes.Expand(bounds.High, x.shape, cutBatch: true).to(x.dtype, x.device)),
            },
            (gradOutput, outputs) =>
            {
                Tensor shared = gradOutput / (stabilizer ?? Stabilizer.Default).Apply(outputs[0] - (outputs[1].add(outputs[2], Scalars.One)));
                return new[] { shared, shared, shared };
            },
            "ZBox")
    {
        Low = bounds.Low;
        High = bounds.High;
    }

    private static Tensor Keep(Tensor bound)
    {
        ArgumentNullException.ThrowIfNull(bound);
        if (!bound.is_floating_point())
        {
            bound = bound.to(ScalarType.Float64);
        }
        return bound.detach().clone().DetachFromDisposeScope();
    }

    /// <summary>The lower bound.</summary>
    public Tensor Low { get; }

    /// <summary>The upper bound.</summary>
    public Tensor High { get; }
}
