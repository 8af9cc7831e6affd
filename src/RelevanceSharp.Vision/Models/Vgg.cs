using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Vision.Models;

/// <summary>
/// VGG with torchvision's architecture, forward pass and state-dict keys: <c>features</c> (3x3 convolutions with
/// padding 1, optionally batch norms, in-place ReLUs and 2x2 max pools, numbered as one Sequential), <c>avgpool</c>
/// (adaptive average pool to 7x7) and <c>classifier</c> (Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear).
/// </summary>
public sealed class Vgg : ZooModel
{
    /// <summary>In a configuration, marks a 2x2 max pool (any other entry is a convolution's output channels).</summary>
    public const long Pool = 0;

    private static readonly long[] ConfigA = { 64, Pool, 128, Pool, 256, 256, Pool, 512, 512, Pool, 512, 512, Pool };
    private static readonly long[] ConfigB = { 64, 64, Pool, 128, 128, Pool, 256, 256, Pool, 512, 512, Pool, 512, 512, Pool };
    private static readonly long[] ConfigD = { 64, 64, Pool, 128, 128, Pool, 256, 256, 256, Pool, 512, 512, 512, Pool, 512, 512, 512, Pool };
    private static readonly long[] ConfigE = { 64, 64, Pool, 128, 128, Pool, 256, 256, 256, 256, Pool, 512, 512, 512, 512, Pool, 512, 512, 512, 512, Pool };

    /// <summary>Creates the network.</summary>
    /// <param name="configuration">The feature layers: output channels of each convolution, <see cref="Pool"/> for a max pool (see <see cref="Configurations"/>).</param>
    /// <param name="batchNorm">Whether each convolution is followed by a batch norm (the <c>_bn</c> variants).</param>
    /// <param name="numClasses">Outputs of the last linear layer.</param>
    /// <param name="dropout">Dropout probability in the classifier while training.</param>
    /// <param name="dtype">Parameter type (TorchSharp's default when <c>null</c>).</param>
    /// <param name="device">Device of the parameters (the CPU when <c>null</c>).</param>
    public Vgg(IReadOnlyList<long> configuration, bool batchNorm, long numClasses = 1000, double dropout = 0.5,
        ScalarType? dtype = null, Device? device = null)
        : base(nameof(Vgg))
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration.Count == 0 || configuration.Any(c => c < 0) || !configuration.Any(c => c != Pool))
        {
            throw new ArgumentException("A VGG configuration lists positive channel counts and Pool markers, with at least one convolution.", nameof(configuration));
        }
        DenseNet.RequirePositive(numClasses, nameof(numClasses));
        if (double.IsNaN(dropout) || dropout < 0 || dropout > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "The dropout probability must lie in [0, 1].");
        }
        Configuration = configuration.ToArray();
        BatchNorm = batchNorm;
        NumClasses = numClasses;

        var features = new List<nn.Module<Tensor, Tensor>>();
        long channels = 3;
        foreach (long entry in Configuration)
        {
            if (entry == Pool)
            {
                features.Add(nn.MaxPool2d(2, stride: 2));
                continue;
            }
            features.Add(nn.Conv2d(channels, entry, 3, padding: 1, device: device, dtype: dtype));
            if (batchNorm)
            {
                features.Add(ZooLayers.BatchNorm(entry, dtype, device));
            }
            features.Add(nn.ReLU(inplace: true));
            channels = entry;
        }
        Features = Numbered(features);
        AvgPool = nn.AdaptiveAvgPool2d(7);
        Classifier = Numbered(new nn.Module<Tensor, Tensor>[]
        {
            nn.Linear(channels * 7 * 7, 4096, device: device, dtype: dtype),
            nn.ReLU(inplace: true),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096, device: device, dtype: dtype),
            nn.ReLU(inplace: true),
            nn.Dropout(dropout),
            nn.Linear(4096, numClasses, device: device, dtype: dtype),
        });
        register_module("features", Features);
        register_module("avgpool", AvgPool);
        register_module("classifier", Classifier);
    }

    /// <summary>
    /// torchvision's configurations by letter: <c>A</c> (VGG-11), <c>B</c> (VGG-13), <c>D</c> (VGG-16) and
    /// <c>E</c> (VGG-19).
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<long>> Configurations { get; } = new Dictionary<string, IReadOnlyList<long>>
    {
        ["A"] = ConfigA,
        ["B"] = ConfigB,
        ["D"] = ConfigD,
        ["E"] = ConfigE,
    };

    /// <summary>The feature layers: channels per convolution, <see cref="Pool"/> for a max pool.</summary>
    public IReadOnlyList<long> Configuration { get; }

    /// <summary>Whether each convolution is followed by a batch norm.</summary>
    public bool BatchNorm { get; }

    /// <summary>Outputs of the last linear layer.</summary>
    public long NumClasses { get; }

    /// <summary><c>features</c>.</summary>
    public Sequential Features { get; }

    /// <summary><c>avgpool</c>: adaptive average pool to 7x7.</summary>
    public AdaptiveAvgPool2d AvgPool { get; }

    /// <summary><c>classifier</c>.</summary>
    public Sequential Classifier { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => Classifier.call(AvgPool.call(Features.call(input)).flatten(1));

    private static Sequential Numbered(IEnumerable<nn.Module<Tensor, Tensor>> modules) =>
        nn.Sequential(modules.Select((m, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), m)));
}
