using System.Text.Json;
using RelevanceSharp.Canonizers.Torchvision;
using RelevanceSharp.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Vision.Models;

/// <summary>The residual block type of a <see cref="ResNet"/>.</summary>
public enum ResNetBlockKind
{
    /// <summary><see cref="BasicBlock"/>: two 3x3 convolutions (ResNet-18, -34).</summary>
    Basic,

    /// <summary><see cref="Bottleneck"/>: 1x1, 3x3, 1x1 convolutions, four times wider output (ResNet-50 and up, ResNeXt, Wide ResNet).</summary>
    Bottleneck,
}

/// <summary>
/// A residual block whose addition can be switched to a <see cref="Layers.Sum"/> module (<see cref="ISumSwitch"/>): then it
/// runs through <see cref="Sum"/> on the summands stacked along a new first dimension (<c>sum(stack([identity, out],
/// 0))</c>) instead of torchvision's in-place <c>out += identity</c>. (zennit stacks along a new last dimension; the
/// first keeps both the stacking and the sum contiguous copies, several times faster on large feature maps.)
/// </summary>
public interface IResidualBlock : ISumSwitch
{
    /// <summary>The registered child <c>sum</c> (sums over the first dimension).</summary>
    Sum Sum { get; }

    /// <summary>The registered child <c>downsample</c> (1x1 convolution and batch norm) on the shortcut, if any.</summary>
    Sequential? Downsample { get; }
}

/// <summary>
/// What torchvision's residual blocks share: a shortcut with an optional <c>downsample</c>, one ReLU module used
/// for every activation of the block, and the addition of shortcut and residual branch.
/// </summary>
public abstract class ResidualBlock : ExplicitModule, IResidualBlock
{
    /// <summary>Creates the shared parts; the subclass registers all children in torchvision's order.</summary>
    protected ResidualBlock(string name, long inputChannels, long outputChannels, long stride, ScalarType? dtype, Device? device)
        : base(name)
    {
        ReLU = nn.ReLU(inplace: true);
        Sum = new Sum(0);
        if (stride != 1 || inputChannels != outputChannels)
        {
            Downsample = nn.Sequential(
                ("0", nn.Conv2d(inputChannels, outputChannels, 1, stride: stride, bias: false, device: device, dtype: dtype)),
                ("1", ZooLayers.BatchNorm(outputChannels, dtype, device)));
        }
    }

    /// <inheritdoc />
    public bool UseSumModule { get; set; }

    /// <inheritdoc />
    public Sum Sum { get; }

    /// <inheritdoc />
    public Sequential? Downsample { get; }

    /// <summary><c>relu</c>: the in-place ReLU, called after each batch norm of the branch but the last and after the addition.</summary>
    public ReLU ReLU { get; }

    /// <summary>Registers <c>downsample</c> (if any) and <c>sum</c>, which come after the block's own layers.</summary>
    protected void RegisterShortcut()
    {
        if (Downsample is not null)
        {
            register_module("downsample", Downsample);
        }
        register_module("sum", Sum);
    }

    /// <summary>Adds the shortcut of <paramref name="input"/> to the branch's result and applies the ReLU.</summary>
    protected Tensor AddShortcut(Tensor input, Tensor branch)
    {
        Tensor identity = Downsample is null ? input : Downsample.call(input);
        Tensor merged = UseSumModule ? Sum.call(stack(new[] { identity, branch }, 0)) : branch.add_(identity, Scalars.One);
        return ReLU.call(merged);
    }

    internal static Conv2d Conv3x3(long input, long output, long stride, long groups, ScalarType? dtype, Device? device) =>
        nn.Conv2d(input, output, 3, stride: stride, padding: 1, groups: groups, bias: false, device: device, dtype: dtype);

    internal static Conv2d Conv1x1(long input, long output, ScalarType? dtype, Device? device) =>
        nn.Conv2d(input, output, 1, bias: false, device: device, dtype: dtype);
}

/// <summary>
/// torchvision's <c>BasicBlock</c>: <c>conv1</c> (3x3, with the stride), <c>bn1</c>, <c>relu</c>, <c>conv2</c>
/// (3x3), <c>bn2</c>, then the shortcut (<c>downsample</c> when the shape changes) added, then <c>relu</c> again.
/// </summary>
public sealed class BasicBlock : ResidualBlock
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const long Expansion = 1;

    /// <summary>Creates the block.</summary>
    public BasicBlock(long inputChannels, long planes, long stride = 1, ScalarType? dtype = null, Device? device = null)
        : base(nameof(BasicBlock), inputChannels, planes * Expansion, stride, dtype, device)
    {
        Conv1 = Conv3x3(inputChannels, planes, stride, 1, dtype, device);
        Bn1 = ZooLayers.BatchNorm(planes, dtype, device);
        Conv2 = Conv3x3(planes, planes, 1, 1, dtype, device);
        Bn2 = ZooLayers.BatchNorm(planes, dtype, device);
        register_module("conv1", Conv1);
        register_module("bn1", Bn1);
        register_module("relu", ReLU);
        register_module("conv2", Conv2);
        register_module("bn2", Bn2);
        RegisterShortcut();
    }

    /// <summary><c>conv1</c>.</summary>
    public Conv2d Conv1 { get; }

    /// <summary><c>bn1</c>.</summary>
    public BatchNorm2d Bn1 { get; }

    /// <summary><c>conv2</c>.</summary>
    public Conv2d Conv2 { get; }

    /// <summary><c>bn2</c>.</summary>
    public BatchNorm2d Bn2 { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor branch = ReLU.call(Bn1.call(Conv1.call(input)));
        branch = Bn2.call(Conv2.call(branch));
        return AddShortcut(input, branch);
    }
}

/// <summary>
/// torchvision's <c>Bottleneck</c> (stride on the 3x3 convolution): <c>conv1</c> (1x1), <c>bn1</c>, <c>relu</c>,
/// <c>conv2</c> (3x3, grouped, with the stride), <c>bn2</c>, <c>relu</c>, <c>conv3</c> (1x1 to
/// <c>4 * planes</c>), <c>bn3</c>, then the shortcut added, then <c>relu</c> again.
/// </summary>
public sealed class Bottleneck : ResidualBlock
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const long Expansion = 4;

    /// <summary>Creates the block; the inner width is <c>floor(planes * widthPerGroup / 64) * groups</c>.</summary>
    public Bottleneck(long inputChannels, long planes, long stride = 1, long groups = 1, long widthPerGroup = 64,
        ScalarType? dtype = null, Device? device = null)
        : base(nameof(Bottleneck), inputChannels, planes * Expansion, stride, dtype, device)
    {
        long width = planes * widthPerGroup / 64 * groups;
        Conv1 = Conv1x1(inputChannels, width, dtype, device);
        Bn1 = ZooLayers.BatchNorm(width, dtype, device);
        Conv2 = Conv3x3(width, width, stride, groups, dtype, device);
        Bn2 = ZooLayers.BatchNorm(width, dtype, device);
        Conv3 = Conv1x1(width, planes * Expansion, dtype, device);
        Bn3 = ZooLayers.BatchNorm(planes * Expansion, dtype, device);
        register_module("conv1", Conv1);
        register_module("bn1", Bn1);
        register_module("conv2", Conv2);
        register_module("bn2", Bn2);
        register_module("conv3", Conv3);
        register_module("bn3", Bn3);
        register_module("relu", ReLU);
        RegisterShortcut();
    }

    /// <summary><c>conv1</c>.</summary>
    public Conv2d Conv1 { get; }

    /// <summary><c>bn1</c>.</summary>
    public BatchNorm2d Bn1 { get; }

    /// <summary><c>conv2</c>.</summary>
    public Conv2d Conv2 { get; }

    /// <summary><c>bn2</c>.</summary>
    public BatchNorm2d Bn2 { get; }

    /// <summary><c>conv3</c>.</summary>
    public Conv2d Conv3 { get; }

    /// <summary><c>bn3</c>.</summary>
    public BatchNorm2d Bn3 { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor branch = ReLU.call(Bn1.call(Conv1.call(input)));
        branch = ReLU.call(Bn2.call(Conv2.call(branch)));
        branch = Bn3.call(Conv3.call(branch));
        return AddShortcut(input, branch);
    }
}

/// <summary>
/// ResNet (and ResNeXt, Wide ResNet) with torchvision's architecture, forward pass and state-dict keys
/// (<c>conv1.weight</c>, <c>layer1.0.bn1.running_mean</c>, <c>layer2.0.downsample.0.weight</c>, ..., <c>fc.bias</c>).
/// </summary>
/// <remarks>
/// Every block adds its shortcut in place and reuses one ReLU module, as torchvision's do. Setting
/// <see cref="UseSumModules"/> (or <see cref="ISumSwitch.UseSumModule"/> of single blocks) routes the additions
/// through each block's <see cref="Sum"/> module instead, so that composites can give them a rule; the state dict is
/// the same either way.
/// </remarks>
public sealed class ResNet : ZooModel
{
    private readonly ResidualBlock[] blocks;

    /// <summary>Creates the network.</summary>
    /// <param name="block">The block type.</param>
    /// <param name="layers">Blocks in each of the four stages (<c>layer1</c> ... <c>layer4</c>).</param>
    /// <param name="numClasses">Outputs of <c>fc</c>.</param>
    /// <param name="groups">Groups of the 3x3 convolutions (ResNeXt's cardinality); bottleneck blocks only.</param>
    /// <param name="widthPerGroup">Channels per group at the first stage, 64 for plain ResNets; bottleneck blocks only.</param>
    /// <param name="dtype">Parameter type (TorchSharp's default when <c>null</c>).</param>
    /// <param name="device">Device of the parameters (the CPU when <c>null</c>).</param>
    public ResNet(ResNetBlockKind block, IReadOnlyList<long> layers, long numClasses = 1000, long groups = 1, long widthPerGroup = 64,
        ScalarType? dtype = null, Device? device = null)
        : base(nameof(ResNet))
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count != 4 || layers.Any(n => n < 1))
        {
            throw new ArgumentException($"A ResNet has four stages of at least one block each; got [{string.Join(", ", layers)}].", nameof(layers));
        }
        DenseNet.RequirePositive(numClasses, nameof(numClasses));
        DenseNet.RequirePositive(groups, nameof(groups));
        DenseNet.RequirePositive(widthPerGroup, nameof(widthPerGroup));
        if (block == ResNetBlockKind.Basic && (groups != 1 || widthPerGroup != 64))
        {
            throw new ArgumentException("Basic blocks support only groups = 1 and width per group = 64, as in torchvision.");
        }
        Block = block;
        Layers = layers.ToArray();
        NumClasses = numClasses;
        Groups = groups;
        WidthPerGroup = widthPerGroup;

        Conv1 = nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false, device: device, dtype: dtype);
        Bn1 = ZooLayers.BatchNorm(64, dtype, device);
        ReLU = nn.ReLU(inplace: true);
        MaxPool = nn.MaxPool2d(3, stride: 2, padding: 1);
        register_module("conv1", Conv1);
        register_module("bn1", Bn1);
        register_module("relu", ReLU);
        register_module("maxpool", MaxPool);

        long expansion = block == ResNetBlockKind.Basic ? BasicBlock.Expansion : Bottleneck.Expansion;
        long channels = 64;
        var all = new List<ResidualBlock>();
        var stages = new Sequential[4];
        for (int stage = 0; stage < 4; stage++)
        {
            long planes = 64L << stage;
            var stageBlocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int i = 0; i < layers[stage]; i++)
            {
                long stride = stage > 0 && i == 0 ? 2 : 1;
                ResidualBlock created = block == ResNetBlockKind.Basic
                    ? new BasicBlock(channels, planes, stride, dtype, device)
                    : new Bottleneck(channels, planes, stride, groups, widthPerGroup, dtype, device);
                channels = planes * expansion;
                stageBlocks.Add((i.ToString(System.Globalization.CultureInfo.InvariantCulture), created));
                all.Add(created);
            }
            stages[stage] = nn.Sequential(stageBlocks);
            register_module($"layer{stage + 1}", stages[stage]);
        }
        Stages = stages;
        blocks = all.ToArray();

        AvgPool = nn.AdaptiveAvgPool2d(1);
        Fc = nn.Linear(512 * expansion, numClasses, device: device, dtype: dtype);
        register_module("avgpool", AvgPool);
        register_module("fc", Fc);
    }

    /// <summary>The block type.</summary>
    public ResNetBlockKind Block { get; }

    /// <summary>Blocks per stage.</summary>
    public IReadOnlyList<long> Layers { get; }

    /// <summary>Outputs of <c>fc</c>.</summary>
    public long NumClasses { get; }

    /// <summary>Groups of the 3x3 convolutions of bottleneck blocks.</summary>
    public long Groups { get; }

    /// <summary>Channels per group at the first stage.</summary>
    public long WidthPerGroup { get; }

    /// <summary><c>conv1</c>: 7x7, stride 2.</summary>
    public Conv2d Conv1 { get; }

    /// <summary><c>bn1</c>.</summary>
    public BatchNorm2d Bn1 { get; }

    /// <summary><c>relu</c> (in place).</summary>
    public ReLU ReLU { get; }

    /// <summary><c>maxpool</c>: 3x3, stride 2, padding 1.</summary>
    public MaxPool2d MaxPool { get; }

    /// <summary><c>layer1</c> ... <c>layer4</c>.</summary>
    public IReadOnlyList<Sequential> Stages { get; }

    /// <summary><c>avgpool</c>: adaptive average pool to 1x1.</summary>
    public AdaptiveAvgPool2d AvgPool { get; }

    /// <summary><c>fc</c>: the final linear layer.</summary>
    public Linear Fc { get; }

    /// <summary>All residual blocks, stage by stage.</summary>
    public IReadOnlyList<IResidualBlock> Blocks => blocks;

    /// <summary>
    /// Whether every block adds through its <see cref="Sum"/> module. Setting it switches all blocks; it reads
    /// <c>true</c> only when all blocks use their sum module.
    /// </summary>
    public bool UseSumModules
    {
        get => blocks.All(b => b.UseSumModule);
        set
        {
            foreach (ResidualBlock b in blocks)
            {
                b.UseSumModule = value;
            }
        }
    }

    /// <summary>
    /// Builds a ResNet from a <c>model.json</c> description (<c>arch</c> <c>resnet</c>): <c>block</c>
    /// (<c>basic</c> or <c>bottleneck</c>) and <c>layers</c> are required; <c>num_classes</c>, <c>groups</c> and
    /// <c>width_per_group</c> default to torchvision's 1000, 1 and 64.
    /// </summary>
    public static ResNet FromSpec(JsonElement spec)
    {
        string block = spec.TryGetProperty("block", out JsonElement b) && b.ValueKind == JsonValueKind.String ? b.GetString() ?? "" : "";
        ResNetBlockKind kind = block.ToLowerInvariant() switch
        {
            "basic" or "basicblock" => ResNetBlockKind.Basic,
            "bottleneck" => ResNetBlockKind.Bottleneck,
            _ => throw new NotSupportedException($"A resnet needs \"block\": \"basic\" or \"bottleneck\"; got '{block}'."),
        };
        long[] layers = ModelSpec.Ints(spec, "layers", Array.Empty<long>());
        if (layers.Length == 0)
        {
            throw new NotSupportedException("A resnet needs \"layers\", the number of blocks in each of the four stages.");
        }
        return new ResNet(kind, layers, ModelSpec.Int(spec, "num_classes", 1000), ModelSpec.Int(spec, "groups", 1),
            ModelSpec.Int(spec, "width_per_group", 64));
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor x = MaxPool.call(ReLU.call(Bn1.call(Conv1.call(input))));
        foreach (Sequential stage in Stages)
        {
            x = stage.call(x);
        }
        return Fc.call(AvgPool.call(x).flatten(1));
    }
}
