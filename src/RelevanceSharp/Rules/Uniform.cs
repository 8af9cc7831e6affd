using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// AttnLRP's uniform rule for products of computed tensors (Achtibat et al., "AttnLRP: Attention-Aware Layer-Wise
/// Relevance Propagation for Transformers", ICML 2024): each of the <c>n</c> factors gets the same share <c>1/n</c> of
/// its input-times-gradient relevance, <c>R_i = x_i * (dy/dx_i)^T (R / y) / n</c>. For a matrix product
/// <c>Y = A B</c>: <c>R_A = A * ((R / Y) B^T) / 2</c> and <c>R_B = B * (A^T (R / Y)) / 2</c>; for an element-wise product
/// of equal shapes each factor gets half the relevance. Conservative: the shares sum to the relevance at the output.
/// </summary>
public sealed class Uniform : ProductRule
{
    /// <summary>Creates the rule.</summary>
    /// <param name="stabilizer">The stabilizer of the output; <see cref="Stabilizer.Exact"/> when <c>null</c>.</param>
    public Uniform(Stabilizer? stabilizer = null) : base(stabilizer)
    {
    }

    /// <inheritdoc />
    protected override double[] Shares(nn.Module module, int inputs) => Enumerable.Repeat(1.0 / inputs, inputs).ToArray();

    /// <inheritdoc />
    public override string ToString() => "Uniform";
}
