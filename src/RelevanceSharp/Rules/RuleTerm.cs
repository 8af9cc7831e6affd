using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// One term of a rule whose relevance is <c>sum_k Coefficient_k * input_k * gradient_k</c>: the input it feeds the
/// layer, how it changes the layer's parameters, and its weight in that sum.
/// </summary>
public sealed record RuleTerm(TermInput Input, ParameterModifier Parameters, double Coefficient = 1.0, Func<Tensor, Tensor>? CustomInput = null)
{
    /// <summary>The input of this term for a layer input <paramref name="x"/>.</summary>
    public Tensor InputFor(Tensor x) => Input switch
    {
        TermInput.Same => x,
        TermInput.PositivePart => x.clamp_min(Scalars.Of(0.0)),
        TermInput.NegativePart => x.clamp_max(Scalars.Of(0.0)),
        TermInput.Ones => ones_like(x),
        _ => (CustomInput ?? throw new InvalidOperationException("A term of kind Other needs a CustomInput function."))(x),
    };
}
