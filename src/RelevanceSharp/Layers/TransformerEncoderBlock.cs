using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Layers;

/// <summary>
/// A pre-norm transformer encoder block, laid out as torchvision's vision transformer lays out its blocks:
/// <c>x = input + dropout(self_attention(ln_1(input)))</c>, then <c>x + mlp(ln_2(x))</c>, with the MLP
/// <c>Linear(E, M) -> GELU -> Dropout -> Linear(M, E) -> Dropout</c> (<c>mlp.0</c> ... <c>mlp.4</c>). The attention is
/// a <see cref="MultiheadSelfAttention"/> and both residual additions are <see cref="Add"/> modules
/// (<c>residual_1</c>, <c>residual_2</c>), so that every step of the block is a module a composite gives a rule.
/// The state-dict keys are torchvision's: <c>ln_1.weight</c>, <c>self_attention.in_proj_weight</c>, ...,
/// <c>mlp.0.weight</c>, <c>mlp.3.bias</c>.
/// </summary>
public sealed class TransformerEncoderBlock : nn.Module<Tensor, Tensor>
{
    // The CPU guard must be in force before a model built from these blocks runs its first kernel.
    static TransformerEncoderBlock() => Platform.CpuGuard.Ensure();

    private readonly LayerNorm ln1;
    private readonly MultiheadSelfAttention attention;
    private readonly Dropout dropout;
    private readonly Add residual1;
    private readonly LayerNorm ln2;
    private readonly Sequential mlp;
    private readonly Add residual2;

    /// <summary>Creates the block, initialized as torchvision initializes its encoder blocks.</summary>
    /// <param name="hiddenDim">The model dimension <c>E</c>.</param>
    /// <param name="numHeads">The attention heads; must divide <paramref name="hiddenDim"/>.</param>
    /// <param name="mlpDim">The hidden size of the MLP, <c>M</c>.</param>
    /// <param name="dropout">The dropout probability after the attention and in the MLP (only in training mode).</param>
    /// <param name="layerNormEps">The epsilon of both layer norms (torchvision's ViT: 1e-6).</param>
    /// <param name="dtype">The parameters' type.</param>
    /// <param name="device">The parameters' device.</param>
    public TransformerEncoderBlock(long hiddenDim, long numHeads, long mlpDim, double dropout = 0.0, double layerNormEps = 1e-6,
        ScalarType? dtype = null, Device? device = null)
        : base(nameof(TransformerEncoderBlock))
    {
        if (mlpDim < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(mlpDim), mlpDim, "The MLP of an encoder block needs a positive size.");
        }
        ln1 = nn.LayerNorm(hiddenDim, layerNormEps, device: device, dtype: dtype);
        attention = new MultiheadSelfAttention(hiddenDim, numHeads, dtype: dtype, device: device);
        this.dropout = nn.Dropout(dropout);
        residual1 = new Add();
        ln2 = nn.LayerNorm(hiddenDim, layerNormEps, device: device, dtype: dtype);
        Linear expand = nn.Linear(hiddenDim, mlpDim, device: device, dtype: dtype);
        Linear contract = nn.Linear(mlpDim, hiddenDim, device: device, dtype: dtype);
        using (no_grad())
        {
            // torchvision's MLP block: xavier-uniform weights, biases of standard deviation 1e-6.
            foreach (Linear layer in new[] { expand, contract })
            {
                nn.init.xavier_uniform_(layer.weight);
                nn.init.normal_(layer.bias!, std: 1e-6);
            }
        }
        mlp = nn.Sequential(("0", expand), ("1", nn.GELU()), ("2", nn.Dropout(dropout)), ("3", contract), ("4", nn.Dropout(dropout)));
        residual2 = new Add();
        register_module("ln_1", ln1);
        register_module("self_attention", attention);
        register_module("dropout", this.dropout);
        register_module("residual_1", residual1);
        register_module("ln_2", ln2);
        register_module("mlp", mlp);
        register_module("residual_2", residual2);
    }

    /// <summary>The layer norm before the attention.</summary>
    public LayerNorm Ln1 => ln1;

    /// <summary>The attention.</summary>
    public MultiheadSelfAttention SelfAttention => attention;

    /// <summary>The layer norm before the MLP.</summary>
    public LayerNorm Ln2 => ln2;

    /// <summary>The MLP: <c>Linear, GELU, Dropout, Linear, Dropout</c>.</summary>
    public Sequential Mlp => mlp;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor x = residual1.call(dropout.call(attention.call(ln1.call(input))), input);
        return residual2.call(mlp.call(ln2.call(x)), x);
    }

    /// <summary>The children are registered by name in the constructor; nothing else is registered.</summary>
    protected override void RegisterComponents()
    {
    }
}
