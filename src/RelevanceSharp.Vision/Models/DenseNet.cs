using System.Text.Json;
using RelevanceSharp.Canonizers.Torchvision;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RelevanceSharp.Vision.Models;

/// <summary>
/// DenseNet with torchvision's architecture, forward pass and state-dict keys (<c>features.conv0.weight</c>,
/// <c>features.denseblock1.denselayer1.norm1.weight</c>, ..., <c>classifier.bias</c>).
/// </summary>
/// <remarks>
/// By default the forward pass ends as torchvision's does: an in-place functional ReLU and a functional adaptive
/// average pool after <see cref="Features"/>, invisible to module hooks. With <see cref="ExplicitHead"/> the same
/// two operations run through the registered modules <see cref="HeadReLU"/> (<c>head_relu</c>) and
/// <see cref="HeadPool"/> (<c>head_pool</c>), so that rules and canonizers can see them. Neither module has
/// parameters, so the switch leaves the state dict unchanged, and it can be switched back at any time.
/// </remarks>
public sealed class DenseNet : ZooModel, IHeadSwitch
{
    /// <summary>Creates the network (the defaults are densenet121's).</summary>
    /// <param name="growthRate">Feature maps each dense layer adds (torchvision's <c>growth_rate</c>).</param>
    /// <param name="blockConfig">Dense layers per block (<c>block_config</c>); default 6, 12, 24, 16.</param>
    /// <param name="numInitFeatures">Feature maps of the first convolution (<c>num_init_features</c>).</param>
    /// <param name="bottleneckSize">Bottleneck width as a multiple of the growth rate (<c>bn_size</c>).</param>
    /// <param name="numClasses">Outputs of the classifier.</param>
    /// <param name="dropRate">Dropout after each dense layer while training (<c>drop_rate</c>).</param>
    /// <param name="dtype">Parameter type (TorchSharp's default when <c>null</c>).</param>
    /// <param name="device">Device of the parameters (the CPU when <c>null</c>).</param>
    /// <param name="inputChannels">Channels of the input image (3 in torchvision).</param>
    /// <param name="smallInputStem">
    /// For small images: the first convolution is 3x3 with stride 1 and there is no max pool (<c>pool0</c>), so the
    /// first dense block sees the full resolution. Off (torchvision's 7x7 stride-2 convolution and max pool) by default.
    /// </param>
    public DenseNet(long growthRate = 32, IReadOnlyList<long>? blockConfig = null, long numInitFeatures = 64, long bottleneckSize = 4,
        long numClasses = 1000, double dropRate = 0, ScalarType? dtype = null, Device? device = null,
        long inputChannels = 3, bool smallInputStem = false)
        : base(nameof(DenseNet))
    {
        RequirePositive(inputChannels, nameof(inputChannels));
        blockConfig ??= new long[] { 6, 12, 24, 16 };
        RequirePositive(growthRate, nameof(growthRate));
        RequirePositive(numInitFeatures, nameof(numInitFeatures));
        RequirePositive(bottleneckSize, nameof(bottleneckSize));
        RequirePositive(numClasses, nameof(numClasses));
        if (blockConfig.Count == 0 || blockConfig.Any(n => n < 1))
        {
            throw new ArgumentException("The block configuration needs at least one block, each with at least one layer.", nameof(blockConfig));
        }
        if (double.IsNaN(dropRate) || dropRate < 0 || dropRate >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dropRate), dropRate, "The drop rate must lie in [0, 1).");
        }
        GrowthRate = growthRate;
        BlockConfig = blockConfig.ToArray();
        NumInitFeatures = numInitFeatures;
        BottleneckSize = bottleneckSize;
        NumClasses = numClasses;
        DropRate = dropRate;

        InputChannels = inputChannels;
        SmallInputStem = smallInputStem;
        var features = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("conv0", smallInputStem
                ? nn.Conv2d(inputChannels, numInitFeatures, 3, stride: 1, padding: 1, bias: false, device: device, dtype: dtype)
                : nn.Conv2d(inputChannels, numInitFeatures, 7, stride: 2, padding: 3, bias: false, device: device, dtype: dtype)),
            ("norm0", ZooLayers.BatchNorm(numInitFeatures, dtype, device)),
            ("relu0", nn.ReLU(inplace: true)),
        };
        if (!smallInputStem)
        {
            features.Add(("pool0", nn.MaxPool2d(3, stride: 2, padding: 1)));
        }
        long channels = numInitFeatures;
        for (int i = 0; i < BlockConfig.Count; i++)
        {
            features.Add(($"denseblock{i + 1}", new DenseBlock(BlockConfig[i], channels, growthRate, bottleneckSize, dropRate, dtype, device)));
            channels += BlockConfig[i] * growthRate;
            if (i < BlockConfig.Count - 1)
            {
                features.Add(($"transition{i + 1}", Transition(channels, channels / 2, dtype, device)));
                channels /= 2;
            }
        }
        features.Add(("norm5", ZooLayers.BatchNorm(channels, dtype, device)));
        Features = nn.Sequential(features);
        HeadReLU = nn.ReLU(inplace: true);
        HeadPool = nn.AdaptiveAvgPool2d(1);
        Classifier = nn.Linear(channels, numClasses, device: device, dtype: dtype);
        register_module("features", Features);
        register_module("head_relu", HeadReLU);
        register_module("head_pool", HeadPool);
        register_module("classifier", Classifier);
    }

    /// <summary>Feature maps each dense layer adds.</summary>
    public long GrowthRate { get; }

    /// <summary>Channels of the input image.</summary>
    public long InputChannels { get; }

    /// <summary>Whether the stem is the small-image one (3x3 convolution, no max pool).</summary>
    public bool SmallInputStem { get; }

    /// <summary>Dense layers per block.</summary>
    public IReadOnlyList<long> BlockConfig { get; }

    /// <summary>Feature maps of the first convolution.</summary>
    public long NumInitFeatures { get; }

    /// <summary>Bottleneck width as a multiple of the growth rate.</summary>
    public long BottleneckSize { get; }

    /// <summary>Outputs of the classifier.</summary>
    public long NumClasses { get; }

    /// <summary>Dropout probability after each dense layer while training.</summary>
    public double DropRate { get; }

    /// <summary>
    /// <c>features</c>: conv0, norm0, relu0, pool0, then denseblock<i>k</i> and transition<i>k</i> (norm, relu, conv,
    /// pool) alternating, and norm5.
    /// </summary>
    public Sequential Features { get; }

    /// <summary><c>head_relu</c>: the final (in-place) ReLU when <see cref="ExplicitHead"/> is set.</summary>
    public ReLU HeadReLU { get; }

    /// <summary><c>head_pool</c>: the final adaptive average pool to 1x1 when <see cref="ExplicitHead"/> is set.</summary>
    public AdaptiveAvgPool2d HeadPool { get; }

    /// <summary><c>classifier</c>: the final linear layer.</summary>
    public Linear Classifier { get; }

    /// <summary>
    /// Whether the final ReLU and average pool run through <see cref="HeadReLU"/> and <see cref="HeadPool"/>
    /// (<c>true</c>) or as torchvision's functional calls (<c>false</c>, the default). Both compute the same values.
    /// </summary>
    public bool ExplicitHead { get; set; }

    /// <summary>The dense blocks, in order.</summary>
    public IReadOnlyList<DenseBlock> Blocks => Features.children().OfType<DenseBlock>().ToList();

    /// <summary>Builds a DenseNet from a <c>model.json</c> description (<c>arch</c> <c>densenet</c>; fields and defaults as torchvision's).</summary>
    public static DenseNet FromSpec(JsonElement spec) => new(
        growthRate: ModelSpec.Int(spec, "growth_rate", 32),
        blockConfig: ModelSpec.Ints(spec, "block_config", new long[] { 6, 12, 24, 16 }),
        numInitFeatures: ModelSpec.Int(spec, "num_init_features", 64),
        bottleneckSize: ModelSpec.Int(spec, "bn_size", 4),
        numClasses: ModelSpec.Int(spec, "num_classes", 1000),
        dropRate: spec.TryGetProperty("drop_rate", out JsonElement rate) && rate.ValueKind == JsonValueKind.Number ? rate.GetDouble() : 0);

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor features = Features.call(input);
        Tensor pooled = ExplicitHead
            ? HeadPool.call(HeadReLU.call(features))
            : F.adaptive_avg_pool2d(F.relu(features, inplace: true), 1);
        return Classifier.call(pooled.flatten(1));
    }

    private static Sequential Transition(long input, long output, ScalarType? dtype, Device? device) => nn.Sequential(
        ("norm", ZooLayers.BatchNorm(input, dtype, device)),
        ("relu", nn.ReLU(inplace: true)),
        ("conv", nn.Conv2d(input, output, 1, bias: false, device: device, dtype: dtype)),
        ("pool", nn.AvgPool2d(2, stride: 2)));

    internal static void RequirePositive(long value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be positive.");
        }
    }
}

/// <summary>
/// A dense block: each layer receives the concatenation of the block's input and all earlier layers' outputs;
/// the block returns the concatenation of all of them. Its layers are <c>denselayer1</c>, <c>denselayer2</c>, ...
/// </summary>
public sealed class DenseBlock : ExplicitModule
{
    private readonly DenseLayer[] layers;

    /// <summary>Creates the block.</summary>
    public DenseBlock(long numLayers, long inputFeatures, long growthRate, long bottleneckSize, double dropRate,
        ScalarType? dtype = null, Device? device = null)
        : base(nameof(DenseBlock))
    {
        layers = new DenseLayer[numLayers];
        for (int i = 0; i < numLayers; i++)
        {
            layers[i] = new DenseLayer(inputFeatures + i * growthRate, growthRate, bottleneckSize, dropRate, dtype, device);
            register_module($"denselayer{i + 1}", layers[i]);
        }
    }

    /// <summary>The dense layers, in order.</summary>
    public IReadOnlyList<DenseLayer> Layers => layers;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var features = new List<Tensor> { input };
        foreach (DenseLayer layer in layers)
        {
            // As in torchvision, each layer's input is a fresh concatenation (a copy even for the first layer).
            features.Add(layer.call(cat(features, 1)));
        }
        return cat(features, 1);
    }
}

/// <summary>
/// A dense layer: batch norm, ReLU, 1x1 convolution to a bottleneck, batch norm, ReLU, 3x3 convolution to
/// <c>growthRate</c> new feature maps (<c>norm1</c>, <c>relu1</c>, <c>conv1</c>, <c>norm2</c>, <c>relu2</c>,
/// <c>conv2</c>). Its input is the concatenation of all earlier feature maps of its block.
/// </summary>
public sealed class DenseLayer : ExplicitModule
{
    /// <summary>Creates the layer.</summary>
    public DenseLayer(long inputFeatures, long growthRate, long bottleneckSize, double dropRate, ScalarType? dtype = null, Device? device = null)
        : base(nameof(DenseLayer))
    {
        long bottleneck = bottleneckSize * growthRate;
        DropRate = dropRate;
        Norm1 = ZooLayers.BatchNorm(inputFeatures, dtype, device);
        ReLU1 = nn.ReLU(inplace: true);
        Conv1 = nn.Conv2d(inputFeatures, bottleneck, 1, bias: false, device: device, dtype: dtype);
        Norm2 = ZooLayers.BatchNorm(bottleneck, dtype, device);
        ReLU2 = nn.ReLU(inplace: true);
        Conv2 = nn.Conv2d(bottleneck, growthRate, 3, padding: 1, bias: false, device: device, dtype: dtype);
        register_module("norm1", Norm1);
        register_module("relu1", ReLU1);
        register_module("conv1", Conv1);
        register_module("norm2", Norm2);
        register_module("relu2", ReLU2);
        register_module("conv2", Conv2);
    }

    /// <summary><c>norm1</c>.</summary>
    public BatchNorm2d Norm1 { get; }

    /// <summary><c>relu1</c> (in place).</summary>
    public ReLU ReLU1 { get; }

    /// <summary><c>conv1</c>: 1x1 to the bottleneck.</summary>
    public Conv2d Conv1 { get; }

    /// <summary><c>norm2</c>.</summary>
    public BatchNorm2d Norm2 { get; }

    /// <summary><c>relu2</c> (in place).</summary>
    public ReLU ReLU2 { get; }

    /// <summary><c>conv2</c>: 3x3 to the new feature maps.</summary>
    public Conv2d Conv2 { get; }

    /// <summary>Dropout probability on the new feature maps while training.</summary>
    public double DropRate { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor bottleneck = Conv1.call(ReLU1.call(Norm1.call(input)));
        Tensor output = Conv2.call(ReLU2.call(Norm2.call(bottleneck)));
        return DropRate > 0 ? F.dropout(output, DropRate, training) : output;
    }
}
