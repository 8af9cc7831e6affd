using System.Globalization;
using RelevanceSharp.Imaging;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>
/// Writes the files of one explained image: its heatmap, and as asked its overlay, its relevance (<c>.npy</c>, or
/// <c>.safetensors</c> with the input, model, target, method and canonical spec in its metadata) and its conservation
/// report (text), all of them or none
/// (<see cref="AtomicFile.WriteAll"/>).
/// </summary>
internal sealed class ExplainWriter(ExplainOptions options, string model, string method, string spec)
{
    private readonly HeatmapOptions heatmap = new(options.ColorMap);

    /// <summary>
    /// Writes the outputs of <paramref name="image"/>: <paramref name="picture"/> is the prepared image, <paramref name="relevance"/>
    /// its relevance (C, H, W), <paramref name="layers"/> its result at each layer asked for (C, h, w), <paramref name="conservation"/>
    /// its conservation report when one was asked for.
    /// </summary>
    public void Write(PlannedImage image, Tensor picture, Tensor relevance, long target, IReadOnlyDictionary<string, Tensor>? layers = null,
        string? conservation = null)
    {
        using var scope = NewDisposeScope();
        Tensor heat = Heatmap.Render(relevance, heatmap);
        var files = new List<(string Path, byte[] Bytes)>(image.Outputs.Count);
        foreach (var (path, kind, layer) in image.Outputs)
        {
            Tensor? atLayer = layer is null ? null : layers![layer];
            byte[] bytes = kind switch
            {
                OutputKind.Heatmap => ImageIO.Encode(heat, options.HeatmapFormat),
                OutputKind.Overlay => ImageIO.Encode(Heatmap.Overlay(heat, picture), options.HeatmapFormat),
                OutputKind.Npy => Npy.Encode(relevance),
                OutputKind.Conservation => System.Text.Encoding.UTF8.GetBytes(conservation
                    ?? throw new InvalidOperationException("A conservation report was planned but not made.")),
                OutputKind.Input => ImageIO.EncodePng(picture),
                OutputKind.LayerHeatmap => ImageIO.Encode(Heatmap.Render(atLayer!, heatmap), options.HeatmapFormat),
                OutputKind.LayerNpy => Npy.Encode(atLayer!),
                OutputKind.LayerSafeTensors => SafeTensors.Encode(new Dictionary<string, Tensor> { ["relevance"] = atLayer! }, Metadata(image, target, layer)),
                _ => SafeTensors.Encode(new Dictionary<string, Tensor> { ["relevance"] = relevance }, Metadata(image, target, null)),
            };
            files.Add((path, bytes));
        }
        AtomicFile.WriteAll(files);
    }

    // What a safetensors file records besides the tensor.
    private Dictionary<string, string> Metadata(PlannedImage image, long target, string? layer)
    {
        var metadata = new Dictionary<string, string>
        {
            ["input"] = Path.GetFileName(image.Input),
            ["model"] = model,
            ["target"] = target.ToString(CultureInfo.InvariantCulture),
            ["method"] = method,
            ["spec"] = spec,
        };
        if (layer is not null)
        {
            metadata["layer"] = layer;
        }
        return metadata;
    }
}
