using RelevanceSharp.Imaging;
using RelevanceSharp.Attribution;
using RelevanceSharp.Vision.Imaging;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>The file format the relevance of each image is written in, besides its heatmap.</summary>
public enum RelevanceFormat
{
    /// <summary>No relevance file, only heatmaps.</summary>
    None,

    /// <summary>NumPy's <c>.npy</c>, one array shaped (C, H, W).</summary>
    Npy,

    /// <summary>A <c>.safetensors</c> file with one tensor named <c>relevance</c>, shaped (C, H, W).</summary>
    SafeTensors,
}

/// <summary>What an <see cref="ExplainJob"/> does: which images, how they are explained and what is written.</summary>
public sealed record ExplainOptions
{
    /// <summary>Image files and folders (a folder stands for the image files directly inside it, sorted by name).</summary>
    public required IReadOnlyList<string> Inputs { get; init; }

    /// <summary>How image files become model inputs (the model's own transform is <see cref="ExplainModel.Transform"/>).</summary>
    public required ImageTransform Transform { get; init; }

    /// <summary>The folder the outputs go to; created when the job runs.</summary>
    public string OutputFolder { get; init; } = "out";

    /// <summary>
    /// What is computed: method, composite, their arguments and canonizers (LRP with <c>epsilon_plus_flat</c> by
    /// default). The <c>low</c> and <c>high</c> of ZBox default to the normalized pixel range of <see cref="Transform"/>:
    /// <c>(0 - mean) / std</c> and <c>(1 - mean) / std</c> per channel.
    /// </summary>
    public AttributionSpec Spec { get; init; } = AttributionSpec.Parse("epsilon_plus_flat");

    /// <summary>The class to explain, or <c>null</c> for each image's predicted class.</summary>
    public long? TargetClass { get; init; }

    /// <summary>Images per forward and backward pass.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Whether and how the relevance itself is written.</summary>
    public RelevanceFormat RelevanceFormat { get; init; } = RelevanceFormat.None;

    /// <summary>The format of heatmaps and overlays (PNG by default; JPEG and WebP at quality 95).</summary>
    public ImageFormat HeatmapFormat { get; init; } = ImageFormat.Png;

    /// <summary>The heatmaps' color map: a built-in name (<see cref="ColorMap.Names"/>) or color-map notation.</summary>
    public string ColorMap { get; init; } = "bwr";

    /// <summary>Whether to write the heatmap laid over the (resized and cropped) image as well.</summary>
    public bool Overlay { get; init; }

    /// <summary>
    /// Whether to write each image's conservation report (<c>&lt;name&gt;.conservation.txt</c>: the relevance entering,
    /// leaving and absorbed by every layer, <see cref="ConservationReport"/>); for the gradient method (LRP with a composite).
    /// </summary>
    public bool Conservation { get; init; }

    /// <summary>
    /// The part of the image list (in <see cref="ImageFiles.SortByName"/> order) to explain, recorded in its manifest
    /// (<see cref="Shard.ManifestName"/> in the output folder), or <c>null</c> to explain every image without a manifest.
    /// </summary>
    public Shard? Shard { get; init; }

    /// <summary>
    /// Whether to skip the images that the part's manifest lists as explained and whose files all exist, and to
    /// append to that manifest; needs <see cref="Shard"/>.
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>
    /// Layers (dotted module names) whose result is written beside the input's: what reaches each layer's output in the
    /// same backward pass (<see cref="AttributionResult.Layers"/>), as <c>&lt;name&gt;.&lt;layer&gt;.png</c>, summed over
    /// channels at the layer's resolution, and with <see cref="RelevanceFormat"/> as the raw tensor, shaped (C, h, w).
    /// </summary>
    public IReadOnlyList<string> Layers { get; init; } = [];

    /// <summary>
    /// How many channels of each layer of <see cref="Layers"/> to list per image, by the most relevance for the target: the
    /// largest sums of each channel's signed relevance over its positions. 0 lists none.
    /// </summary>
    public int TopChannels { get; init; }

    /// <summary>Whether to write the prepared image as the model saw it (<c>&lt;name&gt;.input.png</c>), for a report.</summary>
    public bool WriteInput { get; init; }
}
