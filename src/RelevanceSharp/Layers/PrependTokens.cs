using static TorchSharp.torch;

namespace RelevanceSharp.Layers;

/// <summary>
/// Puts learned tokens in front of a sequence: <c>cat([tokens expanded over the batch, x], dim 1)</c> for tokens of shape
/// <c>(1, k, D)</c> and a sequence of shape <c>(N, T, D)</c>, as a vision transformer prepends its class token. A module
/// of two inputs, so that the relevance the tokens take (they absorb it: they are parameters, not computed from the
/// input) shows in the conservation report under the parameter's name. The concatenation itself hands relevance on
/// unchanged and needs no rule.
/// </summary>
public sealed class PrependTokens : nn.Module<Tensor, Tensor, Tensor>
{
    // The CPU guard must be in force before a model built from these blocks runs its first kernel.
    static PrependTokens() => Platform.CpuGuard.Ensure();

    /// <summary>Creates the module.</summary>
    public PrependTokens() : base(nameof(PrependTokens))
    {
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor tokens, Tensor sequence)
    {
        if (tokens.dim() != 3 || sequence.dim() != 3 || tokens.shape[0] != 1 || tokens.shape[2] != sequence.shape[2])
        {
            throw new ArgumentException(
                $"PrependTokens puts tokens of shape (1, k, D) in front of a sequence of shape (N, T, D); got tokens " +
                $"{Core.TensorShapes.Format(tokens.shape)} and a sequence {Core.TensorShapes.Format(sequence.shape)}.");
        }
        return cat([tokens.expand(sequence.shape[0], -1, -1), sequence], 1);
    }
}
