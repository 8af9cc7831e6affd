using RelevanceSharp.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Language.Models;

/// <summary>
/// The gated (SwiGLU) MLP of LLaMA-family models, <c>down_proj(silu(gate_proj(h)) * up_proj(h))</c>, with the product as
/// a module (<see cref="Multiply"/>, gate 0: the activated gate comes first) so that composites can give it a rule.
/// </summary>
public sealed class DecoderMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;
    private readonly SiLU act_fn;
    private readonly Multiply product;

    /// <summary>Creates the MLP of one layer.</summary>
    public DecoderMlp(DecoderConfig config, ScalarType dtype, Device? device = null) : base(nameof(DecoderMlp))
    {
        ArgumentNullException.ThrowIfNull(config);
        gate_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias, device: device, dtype: dtype);
        up_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias, device: device, dtype: dtype);
        down_proj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: config.MlpBias, device: device, dtype: dtype);
        act_fn = nn.SiLU();
        product = new Multiply(gate: 0);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) =>
        down_proj.call(product.call(act_fn.call(gate_proj.call(input)), up_proj.call(input)));
}
