using System.Text.Json;
using RelevanceSharp.Layers;
using RelevanceSharp.Vision.Imaging;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Vision.Models;

/// <summary>The sizes of a vision transformer, as torchvision's <c>VisionTransformer</c> takes them.</summary>
/// <param name="ImageSize">The side of the square input image.</param>
/// <param name="PatchSize">The side of a square patch; must divide <paramref name="ImageSize"/>.</param>
/// <param name="NumLayers">The number of encoder blocks.</param>
/// <param name="NumHeads">The attention heads per block; must divide <paramref name="HiddenDim"/>.</param>
/// <param name="HiddenDim">The token dimension.</param>
/// <param name="MlpDim">The hidden size of each block's MLP.</param>
/// <param name="NumClasses">The outputs of the head.</param>
/// <param name="RepresentationSize">With a value, the head is <c>pre_logits</c> (Linear to this size), Tanh, <c>head</c>.</param>
/// <param name="Dropout">Dropout after the embedding, the attention and in the MLPs (training only; torchvision's default 0).</param>
/// <param name="Channels">The input image's channels (torchvision: always 3; 1 for a grayscale model of one's own).</param>
public sealed record VisionTransformerOptions(
    long ImageSize, long PatchSize, long NumLayers, long NumHeads, long HiddenDim, long MlpDim,
    long NumClasses = 1000, long? RepresentationSize = null, double Dropout = 0.0, long Channels = 3)
{
    /// <summary>The number of patches along each side.</summary>
    public long GridSize => ImageSize / PatchSize;

    /// <summary>The number of tokens: the class token and one per patch.</summary>
    public long SequenceLength => GridSize * GridSize + 1;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first size torchvision would refuse.</summary>
    public void Validate()
    {
        static void Positive(string name, long value)
        {
            if (value < 1)
            {
                throw new ArgumentException($"The vision transformer's {name} must be positive; got {value}.");
            }
        }
        Positive("image_size", ImageSize);
        Positive("patch_size", PatchSize);
        Positive("num_layers", NumLayers);
        Positive("num_heads", NumHeads);
        Positive("hidden_dim", HiddenDim);
        Positive("mlp_dim", MlpDim);
        Positive("num_classes", NumClasses);
        Positive("channels", Channels);
        if (RepresentationSize is { } size)
        {
            Positive("representation_size", size);
        }
        if (ImageSize % PatchSize != 0)
        {
            throw new ArgumentException($"The vision transformer's patch_size {PatchSize} does not divide its image_size {ImageSize}.");
        }
        if (HiddenDim % NumHeads != 0)
        {
            throw new ArgumentException($"The vision transformer's num_heads {NumHeads} does not divide its hidden_dim {HiddenDim}.");
        }
        if (!(Dropout >= 0.0 && Dropout <= 1.0))
        {
            throw new ArgumentException($"The vision transformer's dropout must lie in [0, 1]; got {Dropout}.");
        }
    }
}

/// <summary>
/// torchvision's vision transformer (Dosovitskiy et al., 2021) with torchvision's state-dict keys: <c>class_token</c>,
/// <c>conv_proj</c>, <c>encoder.pos_embedding</c>, <c>encoder.layers.encoder_layer_N.{ln_1, self_attention.in_proj_weight,
/// self_attention.in_proj_bias, self_attention.out_proj, ln_2, mlp.0, mlp.3}</c>, <c>encoder.ln</c>, <c>heads.head</c>
/// (and <c>heads.pre_logits</c> with a representation size). Every step is a module a rule can attach to: the patch
/// embedding, the class token put in front (<c>class_token_concat</c>), the position embedding added by an
/// <see cref="Add"/> module (<c>encoder.add_pos_embedding</c>), the attention's projections, products and softmax
/// (<see cref="MultiheadSelfAttention"/>), the layer norms, the MLPs and the residual additions
/// (<see cref="TransformerEncoderBlock"/>). Layer norms use epsilon 1e-6 and the MLPs exact GELU, as torchvision's.
/// </summary>
public sealed class VisionTransformer : ZooModel
{
    // Named as the parameter is registered, so that to(dtype) and to(device), which replace the parameter, update the field.
    [ComponentName(Name = "class_token")]
    private Parameter classToken;
    private readonly Conv2d convProj;
    private readonly PrependTokens classTokenConcat;
    private readonly VisionTransformerEncoder encoder;
    private readonly Sequential heads;

    /// <summary>The standard sizes by torchvision's names (images of 224 pixels, as torchvision builds them without weights).</summary>
    public static IReadOnlyDictionary<string, VisionTransformerOptions> Variants { get; } = new Dictionary<string, VisionTransformerOptions>
    {
        ["vit_b_16"] = new(224, 16, 12, 12, 768, 3072),
        ["vit_b_32"] = new(224, 32, 12, 12, 768, 3072),
        ["vit_l_16"] = new(224, 16, 24, 16, 1024, 4096),
        ["vit_l_32"] = new(224, 32, 24, 16, 1024, 4096),
        ["vit_h_14"] = new(224, 14, 32, 16, 1280, 5120),
    };

    /// <summary>
    /// How torchvision prepares images for a size's published ImageNet weights: resize the shorter side to 256 and crop
    /// 224 (<c>vit_l_16</c>: resize to 242; <c>vit_h_14</c>, whose 224-pixel weights are SWAG's linear classifier: resize
    /// and crop 224), ImageNet's mean and standard deviation. With another <paramref name="imageSize"/>, as SWAG's
    /// fine-tuned weights are published (384 for <c>vit_b_16</c>, 512 for <c>vit_l_16</c>, 518 for <c>vit_h_14</c>): resize
    /// and crop to it. (torchvision resizes SWAG's inputs bicubically, the others bilinearly, as this transform does.)
    /// </summary>
    public static ImageTransform DefaultTransform(string name, long? imageSize = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.ToLowerInvariant();
        long standard = Variants.TryGetValue(key, out VisionTransformerOptions? options) ? options.ImageSize : 224;
        if (imageSize is { } size && size != standard)
        {
            int side = checked((int)size);
            return ImageTransform.ImageNet(side, side);
        }
        return key switch
        {
            "vit_l_16" => ImageTransform.ImageNet(242, 224),
            "vit_h_14" => ImageTransform.ImageNet(224, 224),
            _ => ImageTransform.ImageNet(),
        };
    }

    /// <summary>Creates the network with torchvision's initialization (zero class token and head).</summary>
    public VisionTransformer(VisionTransformerOptions options, ScalarType? dtype = null, Device? device = null)
        : base(nameof(VisionTransformer))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        ScalarType type = dtype ?? get_default_dtype();
        long hidden = options.HiddenDim;

        classToken = nn.Parameter(zeros(1, 1, hidden, dtype: type, device: device));
        classToken.DetachFromDisposeScope();
        convProj = nn.Conv2d(options.Channels, hidden, options.PatchSize, stride: options.PatchSize, device: device, dtype: type);
        classTokenConcat = new PrependTokens();
        encoder = new VisionTransformerEncoder(options, type, device);
        var headLayers = new List<(string, nn.Module<Tensor, Tensor>)>();
        if (options.RepresentationSize is { } representation)
        {
            headLayers.Add(("pre_logits", nn.Linear(hidden, representation, device: device, dtype: type)));
            headLayers.Add(("act", nn.Tanh()));
            headLayers.Add(("head", nn.Linear(representation, options.NumClasses, device: device, dtype: type)));
        }
        else
        {
            headLayers.Add(("head", nn.Linear(hidden, options.NumClasses, device: device, dtype: type)));
        }
        heads = nn.Sequential(headLayers);

        using (no_grad())
        {
            // torchvision: truncated normal patch embedding of standard deviation sqrt(1 / fan_in), zero bias; the
            // same for pre_logits; a zero head.
            long fanIn = options.Channels * options.PatchSize * options.PatchSize;
            nn.init.trunc_normal_(convProj.weight, std: Math.Sqrt(1.0 / fanIn));
            convProj.bias!.zero_();
            foreach (var (name, layer) in heads.named_children())
            {
                if (layer is Linear linear && name == "pre_logits")
                {
                    nn.init.trunc_normal_(linear.weight, std: Math.Sqrt(1.0 / linear.in_features));
                    linear.bias!.zero_();
                }
                else if (layer is Linear head)
                {
                    head.weight.zero_();
                    head.bias!.zero_();
                }
            }
        }

        register_parameter("class_token", classToken);
        register_module("conv_proj", convProj);
        register_module("class_token_concat", classTokenConcat);
        register_module("encoder", encoder);
        register_module("heads", heads);
    }

    /// <summary>The sizes of the network.</summary>
    public VisionTransformerOptions Options { get; }

    /// <summary>The class token, <c>(1, 1, hidden_dim)</c>.</summary>
    public Parameter ClassToken => classToken;

    /// <summary>The patch embedding, a convolution with kernel and stride of one patch.</summary>
    public Conv2d ConvProj => convProj;

    /// <summary>The position embedding, <c>(1, tokens, hidden_dim)</c>.</summary>
    public Parameter PosEmbedding => encoder.PosEmbedding;

    /// <summary>The encoder blocks, in order.</summary>
    public IReadOnlyList<TransformerEncoderBlock> Blocks => encoder.Blocks;

    /// <summary>
    /// Builds a standard size by torchvision's name (<see cref="Variants"/>: <c>vit_b_16</c>, <c>vit_b_32</c>,
    /// <c>vit_l_16</c>, <c>vit_l_32</c>, <c>vit_h_14</c>), in evaluation mode.
    /// </summary>
    public static VisionTransformer Create(string name, long numClasses = 1000, ScalarType? dtype = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Variants.TryGetValue(name.ToLowerInvariant(), out VisionTransformerOptions? options))
        {
            throw new ArgumentException($"Unknown vision transformer '{name}'; known: {string.Join(", ", Variants.Keys)}.", nameof(name));
        }
        var model = new VisionTransformer(options with { NumClasses = numClasses }, dtype, device);
        model.eval();
        return model;
    }

    /// <summary>
    /// Builds the network from a <c>model.json</c> description with <c>"arch": "vit"</c>: <c>image_size</c>,
    /// <c>patch_size</c>, <c>num_layers</c>, <c>num_heads</c>, <c>hidden_dim</c>, <c>mlp_dim</c> (required),
    /// <c>num_classes</c> (default 1000), <c>representation_size</c>, <c>dropout</c> and <c>channels</c> (optional; 3 by
    /// default, as torchvision's).
    /// </summary>
    public static VisionTransformer FromSpec(JsonElement spec)
    {
        static long Required(JsonElement spec, string name) =>
            spec.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long number)
                ? number
                : throw new ArgumentException($"A 'vit' architecture needs the integer field '{name}'.");
        long? representation = spec.TryGetProperty("representation_size", out JsonElement r) && r.ValueKind != JsonValueKind.Null
            ? (r.ValueKind == JsonValueKind.Number && r.TryGetInt64(out long size) ? size
                : throw new ArgumentException("The field 'representation_size' of a 'vit' architecture must be an integer or null."))
            : null;
        double dropout = spec.TryGetProperty("dropout", out JsonElement d) && d.ValueKind == JsonValueKind.Number ? d.GetDouble() : 0.0;
        var options = new VisionTransformerOptions(
            Required(spec, "image_size"), Required(spec, "patch_size"), Required(spec, "num_layers"), Required(spec, "num_heads"),
            Required(spec, "hidden_dim"), Required(spec, "mlp_dim"), ModelSpec.Int(spec, "num_classes", 1000), representation, dropout,
            ModelSpec.Int(spec, "channels", 3));
        return new VisionTransformer(options);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        long side = Options.ImageSize;
        if (input.dim() != 4 || input.shape[1] != Options.Channels || input.shape[2] != side || input.shape[3] != side)
        {
            throw new ArgumentException(
                $"This vision transformer (image_size {side}, patch_size {Options.PatchSize}) takes images of shape " +
                $"(N, {Options.Channels}, {side}, {side}); got {Core.TensorShapes.Format(input.shape)}.");
        }
        long n = input.shape[0];
        // (N, D, h, w) -> (N, h*w, D): a reshape and a permutation, which hand relevance on unchanged.
        Tensor patches = convProj.call(input).reshape(n, Options.HiddenDim, -1).permute(0, 2, 1);
        Tensor tokens = encoder.call(classTokenConcat.call(classToken, patches));
        return heads.call(tokens.select(1, 0));
    }
}

/// <summary>The encoder of <see cref="VisionTransformer"/>: position embedding, dropout, blocks, final layer norm.</summary>
internal sealed class VisionTransformerEncoder : ExplicitModule
{
    [ComponentName(Name = "pos_embedding")]
    private Parameter posEmbedding;
    private readonly Add addPosEmbedding;
    private readonly Dropout dropout;
    private readonly Sequential layers;
    private readonly LayerNorm ln;
    private readonly TransformerEncoderBlock[] blocks;

    public VisionTransformerEncoder(VisionTransformerOptions options, ScalarType dtype, Device? device)
        : base("Encoder")
    {
        posEmbedding = nn.Parameter(empty(1, options.SequenceLength, options.HiddenDim, dtype: dtype, device: device));
        posEmbedding.DetachFromDisposeScope();
        using (no_grad())
        {
            nn.init.normal_(posEmbedding, std: 0.02);
        }
        addPosEmbedding = new Add();
        dropout = nn.Dropout(options.Dropout);
        blocks = Enumerable.Range(0, (int)options.NumLayers)
            .Select(_ => new TransformerEncoderBlock(options.HiddenDim, options.NumHeads, options.MlpDim, options.Dropout, 1e-6, dtype, device))
            .ToArray();
        layers = nn.Sequential(blocks.Select((b, i) => ($"encoder_layer_{i}", (nn.Module<Tensor, Tensor>)b)).ToArray());
        ln = nn.LayerNorm(options.HiddenDim, 1e-6, device: device, dtype: dtype);
        register_parameter("pos_embedding", posEmbedding);
        register_module("add_pos_embedding", addPosEmbedding);
        register_module("dropout", dropout);
        register_module("layers", layers);
        register_module("ln", ln);
    }

    public Parameter PosEmbedding => posEmbedding;

    public IReadOnlyList<TransformerEncoderBlock> Blocks => blocks;

    public override Tensor forward(Tensor input) =>
        ln.call(layers.call(dropout.call(addPosEmbedding.call(input, posEmbedding))));
}
