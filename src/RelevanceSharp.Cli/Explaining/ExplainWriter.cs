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

    /// <summary>Writes the outputs of <paramref name="image"/>: <paramref name="picture"/> is the prepared image, <paramref name="relevance"/> its relevance (C, H, W).</summary>
    public void Write(PlannedImage image, Tensor picture, Tensor relevance, long target, string? conservation = null)
    {
        using var scope = NewDisposeScope();
        Tensor heat = Heatmap.Render(relevance, heatmap);
        var files = new List<(string Path, byte[] Bytes)>(image.Outputs.Count);
        foreach (var (path, kind) in image.Outputs)
        {
            byte[] bytes = kind switch
            {
                OutputKind.Heatmap => ImageIO.Encode(heat, options.HeatmapFormat),
                OutputKind.Overlay => ImageIO.Encode(Heatmap.Overlay(heat, picture), options.HeatmapFormat),
                OutputKind.Npy => Npy.Encode(relevance),
                OutputKind.Conservation => System.Text.Encoding.UTF8.GetBytes(conservation
                    ?? throw new InvalidOperationException("A conservation report was planned but not made.")),
                _ => SafeTensors.Encode(
                    new Dictionary<string, Tensor> { ["relevance"] = relevance },
                    new Dictionary<string, string>
                    {
                        ["input"] = Path.GetFileName(image.Input),
                        ["model"] = model,
                        ["target"] = target.ToString(CultureInfo.InvariantCulture),
                        ["method"] = method,
                        ["spec"] = spec,
                    }),
            };
            files.Add((path, bytes));
        }
        AtomicFile.WriteAll(files);
    }
}
