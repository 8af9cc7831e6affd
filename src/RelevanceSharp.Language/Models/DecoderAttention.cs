using RelevanceSharp.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Language.Models;

/// <summary>
/// Causal grouped-query self-attention as in LLaMA-family models, built from modules a composite can give rules to:
/// the projections <c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c>, <c>o_proj</c> (Linear, Hugging Face's names), the rotary
/// embedding of queries and keys (<see cref="RotaryEmbedding"/>), the scores <c>q k^T / sqrt(head_dim)</c>
/// (<see cref="MatMul"/> with the scale inside), the softmax, and the mixing <c>attention @ v</c> (<see cref="MatMul"/>,
/// gate 0: the attention weights). What runs between these modules moves or copies values and changes no relevance:
/// splitting heads, repeating each key/value head for its group of query heads, and the causal mask, which sets
/// the scores of later tokens to minus infinity (the softmax gives them weight zero and its rule no relevance).
/// </summary>
public sealed class DecoderAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly RotaryEmbedding rotary;
    private readonly MatMul scores;
    private readonly Softmax softmax;
    private readonly MatMul mix;

    /// <summary>Creates the attention of one layer.</summary>
    public DecoderAttention(DecoderConfig config, ScalarType dtype, Device? device = null) : base(nameof(DecoderAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        long h = config.HiddenSize, d = config.HeadDim;
        q_proj = nn.Linear(h, config.AttentionHeads * d, hasBias: config.QkvBias, device: device, dtype: dtype);
        k_proj = nn.Linear(h, config.KeyValueHeads * d, hasBias: config.QkvBias, device: device, dtype: dtype);
        v_proj = nn.Linear(h, config.KeyValueHeads * d, hasBias: config.QkvBias, device: device, dtype: dtype);
        o_proj = nn.Linear(config.AttentionHeads * d, h, hasBias: config.OutputBias, device: device, dtype: dtype);
        rotary = new RotaryEmbedding(d, config.RopeTheta, config.RopeScaling);
        scores = new MatMul(1.0 / Math.Sqrt(d));
        softmax = nn.Softmax(-1);
        mix = new MatMul(gate: 0);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public DecoderConfig Config { get; }

    /// <summary>The softmax, whose output holds the attention weights (batch, heads, tokens, tokens).</summary>
    public Softmax Softmax => softmax;

    /// <summary>
    /// When set, receives the attention weights of every call (batch, heads, tokens, tokens), detached: for attention
    /// rollout and for inspection. The tensors belong to the receiver (outside any dispose scope), which disposes them.
    /// </summary>
    public Action<Tensor>? AttentionObserver { get; set; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        long batch = input.shape[0], tokens = input.shape[1], d = Config.HeadDim;
        int heads = Config.AttentionHeads, kvHeads = Config.KeyValueHeads;
        Tensor q = q_proj.call(input).view(batch, tokens, heads, d).transpose(1, 2);
        Tensor k = k_proj.call(input).view(batch, tokens, kvHeads, d).transpose(1, 2);
        Tensor v = v_proj.call(input).view(batch, tokens, kvHeads, d).transpose(1, 2);
        q = rotary.call(q);
        k = rotary.call(k);
        if (Config.GroupSize > 1)
        {
            // Key/value head j serves query heads j * group ... (j + 1) * group - 1, as Hugging Face's repeat_kv.
            k = k.repeat_interleave(Config.GroupSize, 1);
            v = v.repeat_interleave(Config.GroupSize, 1);
        }
        Tensor s = scores.call(q, k.transpose(-2, -1));
        using (Tensor future = ones(tokens, tokens, ScalarType.Bool, input.device).triu_(1))
        {
            s = s.masked_fill(future, Scalars.Of(double.NegativeInfinity));
        }
        Tensor weights = softmax.call(s);
        AttentionObserver?.Invoke(weights.detach().clone().DetachFromDisposeScope());
        Tensor mixed = mix.call(weights, v);
        return o_proj.call(mixed.transpose(1, 2).reshape(batch, tokens, heads * d));
    }
}
