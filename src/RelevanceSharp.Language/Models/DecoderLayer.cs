using RelevanceSharp.Layers;
using static TorchSharp.torch;

namespace RelevanceSharp.Language.Models;

/// <summary>
/// One layer of a LLaMA-family decoder: <c>x = x + self_attn(input_layernorm(x))</c>, then
/// <c>x = x + mlp(post_attention_layernorm(x))</c>, with both residual additions as <see cref="Add"/> modules.
/// </summary>
public sealed class DecoderLayer : nn.Module<Tensor, Tensor>
{
    private readonly RMSNorm input_layernorm;
    private readonly DecoderAttention self_attn;
    private readonly Add attention_residual;
    private readonly RMSNorm post_attention_layernorm;
    private readonly DecoderMlp mlp;
    private readonly Add mlp_residual;

    /// <summary>Creates the layer.</summary>
    public DecoderLayer(DecoderConfig config, ScalarType dtype, Device? device = null) : base(nameof(DecoderLayer))
    {
        ArgumentNullException.ThrowIfNull(config);
        input_layernorm = new RMSNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        self_attn = new DecoderAttention(config, dtype, device);
        attention_residual = new Add();
        post_attention_layernorm = new RMSNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        mlp = new DecoderMlp(config, dtype, device);
        mlp_residual = new Add();
        RegisterComponents();
    }

    /// <summary>The layer's attention.</summary>
    public DecoderAttention Attention => self_attn;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor x = attention_residual.call(input, self_attn.call(input_layernorm.call(input)));
        return mlp_residual.call(x, mlp.call(post_attention_layernorm.call(x)));
    }
}
