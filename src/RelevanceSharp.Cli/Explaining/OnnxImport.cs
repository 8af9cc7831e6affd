using System.Globalization;
using RelevanceSharp.Onnx;
using TorchSharp;
using RelevanceSharp.Vision.Imaging;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>
/// An ONNX file as the commands use it (<c>--model model.onnx</c>): which graph input and output (<c>--input</c>,
/// <c>--model-output</c>; needed only where the graph has several), whether its images are channels last, and how
/// image files become its input when the command line does not say: the crop is the graph's fixed height and width (224
/// where they are open), the shorter side is resized to 256/224 of it, as torchvision evaluates ImageNet models, and
/// three channels are normalized with ImageNet's mean and standard deviation (one channel: none).
/// </summary>
public sealed class OnnxImport
{
    private OnnxImport(string path, OnnxInterface found, OnnxValueInfo input, string output, bool channelsLast, string? note,
        ImageTransform transform, long? fixedSide)
    {
        Path = path;
        Interface = found;
        Input = input;
        Output = output;
        ChannelsLast = channelsLast;
        Note = note;
        DefaultTransform = transform;
        FixedSide = fixedSide;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Its interface.</summary>
    public OnnxInterface Interface { get; }

    /// <summary>The graph input that is explained.</summary>
    public OnnxValueInfo Input { get; }

    /// <summary>The value the model returns.</summary>
    public string Output { get; }

    /// <summary>Whether the graph reads images channels last.</summary>
    public bool ChannelsLast { get; }

    /// <summary>What was chosen without being asked, e.g. the logits before a final softmax; <c>null</c> when nothing was.</summary>
    public string? Note { get; }

    /// <summary>How images become the input unless the command line says otherwise.</summary>
    public ImageTransform DefaultTransform { get; }

    /// <summary>The side the graph fixes its images to, if it does.</summary>
    public long? FixedSide { get; }

    /// <summary>Whether a <c>--model</c> value names an ONNX file.</summary>
    public static bool IsOnnx(string model) => model.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Reads the file's interface and chooses input and output. With <paramref name="beforeSoftmax"/>, an output that a
    /// final softmax computes is replaced by the softmax's input (the logits), which is what LRP explains; the choice is
    /// reported in <see cref="Note"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The graph has several inputs or outputs and none was chosen, or the chosen one does not exist.</exception>
    public static OnnxImport Open(string path, string? input, string? output, bool beforeSoftmax)
    {
        ArgumentNullException.ThrowIfNull(path);
        OnnxInterface found = OnnxModel.ReadInterface(path);
        OnnxValueInfo chosenInput = input is null
            ? found.Inputs.Count == 1
                ? found.Inputs[0]
                : throw new ArgumentException($"{path}: the graph has {found.Inputs.Count} inputs; choose one with --input: {Names(found.Inputs)}.")
            : found.Inputs.FirstOrDefault(i => i.Name == input)
                ?? throw new ArgumentException($"{path}: the graph has no input '{input}'; its inputs: {Names(found.Inputs)}.");
        string chosenOutput = output ?? (found.Outputs.Count == 1
            ? found.Outputs[0].Name
            : throw new ArgumentException($"{path}: the graph has {found.Outputs.Count} outputs; choose one with --model-output: {Names(found.Outputs)}."));
        string? note = null;
        if (output is null && beforeSoftmax && found.BeforeSoftmax.TryGetValue(chosenOutput, out string? logits))
        {
            note = $"the graph ends in a softmax; explaining its input '{logits}' (the logits), as LRP does (--model-output {chosenOutput} explains the probabilities)";
            chosenOutput = logits;
        }
        bool channelsLast = OnnxModel.LooksChannelsLast(chosenInput);
        IReadOnlyList<string>? dims = chosenInput.Dimensions;
        if (dims is not { Count: 4 })
        {
            throw new ArgumentException(
                $"{path}: the input '{chosenInput.Name}' is {Shape(dims)}; images need (N, C, H, W) or, channels last, (N, H, W, C).");
        }
        string channelText = channelsLast ? dims[3] : dims[1];
        long channels = long.TryParse(channelText, NumberStyles.None, CultureInfo.InvariantCulture, out long c) ? c : 3;
        if (channels is not (1 or 3))
        {
            throw new ArgumentException($"{path}: the input '{chosenInput.Name}' {Shape(dims)} has {channelText} channels; images have 1 or 3.");
        }
        long? height = Fixed(channelsLast ? dims[1] : dims[2]);
        long? width = Fixed(channelsLast ? dims[2] : dims[3]);
        if (height != width && height is not null && width is not null)
        {
            throw new ArgumentException(
                $"{path}: the input '{chosenInput.Name}' is {height}x{width} pixels; explain and predict prepare square images (resize and center crop).");
        }
        long? side = height ?? width;
        int crop = (int)(side ?? 224);
        int size = (int)Math.Round(crop * 256.0 / 224.0);
        ImageTransform transform = channels == 3 ? ImageTransform.ImageNet(size, crop) : ImageTransform.SingleChannel(size, crop, 0f, 1f);
        return new OnnxImport(path, found, chosenInput, chosenOutput, channelsLast, note, transform, side);
    }

    /// <summary>Builds the model for images prepared by <paramref name="transform"/>.</summary>
    public ExplainModel Load(ImageTransform transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        int side = transform.CropSize;
        if (side <= 0)
        {
            throw new ArgumentException($"{Path}: an ONNX model takes images of one size; give --crop (the model's input side).");
        }
        if (FixedSide is { } fixedSide && fixedSide != side)
        {
            throw new ArgumentException($"{Path}: the graph takes images of {fixedSide}x{fixedSide} pixels; --crop {side} does not fit.");
        }
        OnnxModel model = OnnxModel.Load(Path, LoadOptions(transform.Channels, side));
        string precision = "";
        if (model.FloatType != TorchSharp.torch.ScalarType.Float32)
        {
            // Images are prepared in float32; a double model computes in float32 here.
            model.to(TorchSharp.torch.ScalarType.Float32);
            precision = ", computed in float32";
        }
        string description = $"{System.IO.Path.GetFileName(Path)} (ONNX opset {model.Opset}, output '{model.OutputName}'{precision})";
        return new ExplainModel(model, description, transform);
    }

    /// <summary>The load options for images of <paramref name="channels"/> channels and side <paramref name="side"/>.</summary>
    public OnnxLoadOptions LoadOptions(int channels, int side) => new()
    {
        Input = Input.Name,
        Output = Output,
        InputShape = [channels, side, side],
        ChannelsLast = ChannelsLast,
    };

    private static long? Fixed(string dimension) =>
        long.TryParse(dimension, NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value > 0 ? value : null;

    private static string Shape(IReadOnlyList<string>? dims) => dims is null ? "of unknown shape" : $"[{string.Join(", ", dims)}]";

    private static string Names(IEnumerable<OnnxValueInfo> values) => string.Join(", ", values.Select(v => v.ToString()));
}
