using RelevanceSharp.Language.Models;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Language.Explaining;

/// <summary>
/// Attention rollout (Abnar and Zuidema, 2020) for decoders: each layer's attention averaged over heads, mixed half and
/// half with the identity for the residual stream, and multiplied from the first layer to the last. Row <c>t</c> of the
/// result says how much each token flows into position <c>t</c>; the row of the explained position is the rollout's
/// token score. It ignores the MLPs, the values and the target: a baseline for relevance methods.
/// </summary>
public static class AttentionRollout
{
    /// <summary>The rollout (batch, tokens, tokens) of a batch of prompts given as ids (batch, tokens).</summary>
    public static Tensor Compute(DecoderModel model, Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(ids);
        var attention = new List<Tensor>();
        IReadOnlyList<DecoderLayer> layers = model.Body.Layers;
        try
        {
            foreach (DecoderLayer layer in layers)
            {
                layer.Attention.AttentionObserver = a => attention.Add(a);
            }
            using (no_grad())
            {
                model.Logits(ids).Dispose();
            }
        }
        finally
        {
            foreach (DecoderLayer layer in layers)
            {
                layer.Attention.AttentionObserver = null;
            }
        }
        using var scope = NewDisposeScope();
        long tokens = ids.shape[1];
        Tensor identity = eye(tokens, dtype: model.DType);
        Tensor rollout = identity.expand(ids.shape[0], tokens, tokens);
        foreach (Tensor a in attention)
        {
            Tensor mixed = a.mean(new long[] { 1 }).mul(Scalars.Of(0.5)).add(identity.mul(Scalars.Of(0.5)), Scalars.One);
            rollout = mixed.bmm(rollout);
            a.Dispose();
        }
        return rollout.MoveToOuterDisposeScope();
    }
}
