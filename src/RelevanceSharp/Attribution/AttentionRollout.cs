using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Layers;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>The patch grid of a rollout: <paramref name="Rows"/> x <paramref name="Columns"/> patches of <paramref name="PatchHeight"/> x <paramref name="PatchWidth"/> pixels.</summary>
public sealed record PatchGridShape(long Rows, long Columns, long PatchHeight, long PatchWidth);

/// <summary>
/// Attention rollout (Abnar and Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020): the attention
/// weights of every layer, averaged over the heads, with the identity added for the residual connection and each row
/// renormalized, <c>A_l = (mean_h W_l + I) / rowsum</c>, multiplied over the layers, <c>R = A_L ... A_1</c>; the class
/// token's row of <c>R</c> over the patch tokens, arranged as the patch grid, says how much each patch flows into the
/// class token. It looks at the attention only, so it is the same for every class: the target is ignored.
/// </summary>
/// <remarks>
/// The method gives one value per patch. <see cref="AttributePatches"/> returns the grid (<c>(N, rows, columns)</c>);
/// <see cref="Attributor.Attribute(TorchSharp.torch.Tensor, AttributionTarget?)"/> keeps the common call shape and returns the grid upsampled to the input: each
/// patch's value spread evenly over its pixels and channels (so that the relevance in a patch sums to its value),
/// which is what a heatmap of it shows. <see cref="LastGrid"/> says how the last call's grid maps onto the input.
/// </remarks>
public sealed class AttentionRollout : Attributor
{
    private readonly IReadOnlyList<nn.Module<Tensor, Tensor>>? attentions;

    private static readonly ArgumentSpec PrefixTokensArgument =
        ArgumentSpec.WholeNumber("prefix_tokens", 1, "Tokens before the patches; the first is the class token whose row is read.") with { Minimum = 1 };

    /// <summary>
    /// The registry entry: <c>attention_rollout</c> (also spelled <c>attention-rollout</c>) over the softmax of every
    /// <see cref="MultiheadSelfAttention"/>; it takes no composite and ignores the target.
    /// </summary>
    [RegistryEntry(60)]
    public static MethodEntry Entry { get; } = new("attention_rollout",
        "Attention rollout (vision transformers): the attention flow from the patches into the class token, one value per patch.",
        [PrefixTokensArgument],
        c => new AttentionRollout(c.Model, c.Target, c.Arguments.WholeNumber(PrefixTokensArgument) is var prefix && prefix <= int.MaxValue
            ? (int)prefix
            : throw new ArgumentException($"Argument 'prefix_tokens' is too large: {prefix}.")))
    {
        Aliases = ["attention-rollout", "rollout"],
        TakesComposite = false,
        Describe = (_, _) => "attention rollout (one value per patch)",
    };

    /// <summary>Creates the attributor.</summary>
    /// <param name="model">A vision transformer whose tokens are the class token(s) followed by the patches in row-major order.</param>
    /// <param name="target">Ignored (rollout does not depend on the class); kept for the common call shape.</param>
    /// <param name="prefixTokens">The tokens before the patches (1: the class token, which is token 0).</param>
    /// <param name="attentions">Modules whose outputs are the attention weights, <c>(N, heads, T, T)</c> or <c>(N, T, T)</c>;
    /// by default the softmax of every <see cref="MultiheadSelfAttention"/> of the model. Layers are taken in the order
    /// they run.</param>
    public AttentionRollout(nn.Module<Tensor, Tensor> model, AttributionTarget? target = null, int prefixTokens = 1,
        IReadOnlyList<nn.Module<Tensor, Tensor>>? attentions = null)
        : base(model, null, target)
    {
        if (prefixTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(prefixTokens), prefixTokens, "Rollout reads the row of the class token, so there is at least one token before the patches.");
        }
        PrefixTokens = prefixTokens;
        this.attentions = attentions;
    }

    /// <summary>The tokens before the patches; token 0 is the class token whose row is read.</summary>
    public int PrefixTokens { get; }

    /// <summary>The patch grid of the last call, or <c>null</c> before the first.</summary>
    public PatchGridShape? LastGrid { get; private set; }

    /// <inheritdoc />
    protected override bool TakesGradients => false;

    /// <summary>The rollout on the patch grid, <c>(N, rows, columns)</c>, and the model output.</summary>
    public (Tensor Output, Tensor Grid) AttributePatches(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        InputChecks.EnsureFinite(input);
        using var scope = NewDisposeScope();
        var (output, grid, _) = Rollout(input);
        return (output.MoveToOuterDisposeScope(), grid.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        var (output, grid, shape) = Rollout(input);
        if (input.dim() != 4)
        {
            throw new ArgumentException($"Attention rollout maps its patch grid onto images (N, C, H, W); got an input of shape {TensorShapes.Format(input.shape)}.");
        }
        // Each patch's value spread evenly over its pixels and channels.
        double share = 1.0 / (input.shape[1] * shape.PatchHeight * shape.PatchWidth);
        Tensor pixels = grid.mul(Scalars.Of(share))
            .repeat_interleave(shape.PatchHeight, 1).repeat_interleave(shape.PatchWidth, 2)
            .unsqueeze(1).expand(input.shape).contiguous();
        return (output, pixels);
    }

    private (Tensor Output, Tensor Grid, PatchGridShape Shape) Rollout(Tensor input)
    {
        IReadOnlyList<nn.Module<Tensor, Tensor>> modules = attentions ?? DefaultAttentions(Model);
        var weights = new List<Tensor>();
        var hooks = new List<IDisposable>();
        Tensor output;
        try
        {
            foreach (nn.Module<Tensor, Tensor> module in modules)
            {
                var handle = module.register_forward_hook((m, x, y) =>
                {
                    weights.Add(y.detach().clone());
                    return y;
                });
                hooks.Add(new Removal(handle.remove));
            }
            using (no_grad())
            {
                output = Model.call(input.detach());
            }
        }
        finally
        {
            foreach (IDisposable hook in hooks)
            {
                hook.Dispose();
            }
        }
        if (weights.Count == 0)
        {
            throw new InvalidOperationException("The model ran none of the attention modules, so there is no attention to roll out.");
        }
        long n = input.shape[0];
        Tensor? rollout = null;
        foreach (Tensor layer in weights)
        {
            Tensor mean = layer.dim() switch
            {
                4 => layer.mean([1L]),
                3 => layer,
                _ => throw new InvalidOperationException(
                    $"Attention weights must have the shape (N, heads, T, T) or (N, T, T); got {TensorShapes.Format(layer.shape)}."),
            };
            long tokens = mean.shape[^1];
            if (mean.shape[0] != n || mean.shape[^2] != tokens || (rollout is not null && rollout.shape[^1] != tokens))
            {
                throw new InvalidOperationException(
                    $"Attention weights of shape {TensorShapes.Format(layer.shape)} do not fit a batch of {n} with one token count throughout.");
            }
            Tensor augmented = mean.to(ScalarType.Float64).add(eye(tokens, dtype: ScalarType.Float64, device: mean.device), Scalars.One);
            augmented = augmented / augmented.sum(-1, keepdim: true);
            rollout = rollout is null ? augmented : augmented.matmul(rollout);
        }
        long patches = rollout!.shape[^1] - PrefixTokens;
        PatchGridShape shape = GridOf(input, patches);
        LastGrid = shape;
        Tensor row = rollout.select(1, 0).narrow(1, PrefixTokens, patches);
        // Computed in float64, returned in the input's type.
        return (output, row.reshape(n, shape.Rows, shape.Columns).to(input.dtype), shape);
    }

    // The grid that tiles the input's last two dimensions with square patches, one per patch token.
    private static PatchGridShape GridOf(Tensor input, long patches)
    {
        if (input.dim() < 2 || patches < 1)
        {
            throw new ArgumentException($"Cannot place {patches} patch tokens on an input of shape {TensorShapes.Format(input.shape)}.");
        }
        long height = input.shape[^2], width = input.shape[^1];
        long side = (long)Math.Round(Math.Sqrt((double)height * width / patches));
        if (side < 1 || height % side != 0 || width % side != 0 || height / side * (width / side) != patches)
        {
            throw new ArgumentException(
                $"{patches} patch tokens do not tile an input of {height} x {width} pixels with square patches.");
        }
        return new PatchGridShape(height / side, width / side, side, side);
    }

    private static IReadOnlyList<nn.Module<Tensor, Tensor>> DefaultAttentions(nn.Module model)
    {
        var found = model.NamedModulesWithRoot().Select(e => e.Module).OfType<MultiheadSelfAttention>().Select(a => (nn.Module<Tensor, Tensor>)a.Softmax).ToList();
        return found.Count > 0
            ? found
            : throw new ArgumentException("The model has no MultiheadSelfAttention; pass the modules that output its attention weights.");
    }

    private sealed class Removal(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }
}
