using System.Globalization;
using RelevanceSharp.Cli.Explaining;

namespace RelevanceSharp.Cli.Reports;

/// <summary>One configuration's part of an explain report: what it computed and where its manifest and files are.</summary>
/// <param name="Name">The configuration as a column heading (its spec as given).</param>
/// <param name="Description">What it computes, in words.</param>
/// <param name="Manifest">Its manifest; the outputs it lists are relative to its folder.</param>
/// <param name="Layers">The layers whose heatmaps it wrote.</param>
/// <param name="Extension">The extension of its heatmaps (<c>.png</c>, <c>.jpg</c>, <c>.webp</c>).</param>
internal sealed record ReportedRun(string Name, string Description, string Manifest, IReadOnlyList<string> Layers, string Extension);

/// <summary>
/// <c>report.html</c> of <c>relevance explain --report</c>: one page, beside the heatmaps, with a table of the images
/// (sortable by name, predicted class, probability and target, filterable by any text in a row): each row the image as
/// the model saw it, its prediction, and for every configuration side by side its heatmap, its overlay, its layer
/// heatmaps and its top channels. Everything comes from the runs' manifests, so a resumed run's earlier images are in it.
/// </summary>
internal static class ExplainReport
{
    /// <summary>The report's file name.</summary>
    public const string FileName = "report.html";

    /// <summary>Writes <see cref="FileName"/> into <paramref name="folder"/> and returns its path.</summary>
    /// <param name="folder">The report's folder (the output folder).</param>
    /// <param name="model">The model, as the jobs describe it.</param>
    /// <param name="runs">The configurations, in the order of the columns.</param>
    /// <param name="notes">Lines said before the table (e.g. how a Grad-CAM map was upsampled).</param>
    public static string Write(string folder, string model, IReadOnlyList<ReportedRun> runs, IReadOnlyList<string> notes)
    {
        var entries = runs.Select(run => ExplainManifest.Read(run.Manifest).Latest()).ToList();
        var names = entries.SelectMany(e => e.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var page = new HtmlPage($"relevance explain: {names.Count} image{(names.Count == 1 ? "" : "s")}, {model}");
        foreach (ReportedRun run in runs)
        {
            page.Paragraph($"{run.Name}: {run.Description}.");
        }
        foreach (string note in notes)
        {
            page.Paragraph(note, "note");
        }

        var columns = new List<HtmlColumn>
        {
            new("image"), new("name", "text"), new("predicted", "text"), new("probability", "number"), new("target", "text"),
        };
        foreach (ReportedRun run in runs)
        {
            columns.Add(new("heatmap"));
            columns.Add(new("overlay"));
            columns.AddRange(run.Layers.Select(layer => new HtmlColumn(layer)));
        }
        var rows = new List<IReadOnlyList<HtmlCell>>();
        foreach (string name in names)
        {
            var found = runs.Select((run, i) => (Run: run, Entry: entries[i].GetValueOrDefault(name))).ToList();
            ManifestEntry? first = found.Select(f => f.Entry).FirstOrDefault(e => e is { Error: null });
            string stem = Path.GetFileNameWithoutExtension(name);
            var row = new List<HtmlCell>
            {
                new(found.Where(f => f.Entry is { Error: null }).Select(f => Output(folder, f.Run, f.Entry!, stem + ".input.png", $"{name} as the model saw it"))
                    .FirstOrDefault(html => html is not null) ?? ""),
                HtmlCell.Text(name),
                HtmlCell.Text(first?.Class ?? ""),
                first?.Probability is double p
                    ? HtmlCell.Text(string.Create(CultureInfo.InvariantCulture, $"{p * 100:F1}%"), p.ToString("R", CultureInfo.InvariantCulture))
                    : HtmlCell.Text(""),
                HtmlCell.Text(first?.Target is long target ? target == first.Predicted ? first.Class ?? "" : $"class {target}" : ""),
            };
            foreach (var (run, entry) in found)
            {
                int cells = 2 + run.Layers.Count;
                if (entry is null || entry.Error is not null)
                {
                    row.Add(new($"<span class=\"error\">{HtmlPage.Escape(entry?.Error ?? "not explained")}</span>"));
                    row.AddRange(Enumerable.Repeat(new HtmlCell(""), cells - 1));
                    continue;
                }
                row.Add(new(Output(folder, run, entry, entry.Outputs[0], $"{run.Name}: heatmap of {name}") ?? ""));
                row.Add(new(Output(folder, run, entry, stem + ".overlay" + run.Extension, $"{run.Name}: overlay of {name}") ?? ""));
                foreach (string layer in run.Layers)
                {
                    string image = Output(folder, run, entry, ExplainLayers.FileStem(stem, layer) + run.Extension, $"{run.Name}: {layer} of {name}") ?? "";
                    string channels = entry.TopChannels?.GetValueOrDefault(layer) is { } top
                        ? "<div>top channels: " + HtmlPage.Escape(string.Join(", ",
                            top.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Channel} ({c.Relevance:G4})")))) + "</div>"
                        : "";
                    row.Add(new(image + channels));
                }
            }
            rows.Add(row);
        }
        page.Table(new HtmlTable("images", columns, rows, "filter by name or class") { Groups = [.. runs.Select(run => (run.Name, 2 + run.Layers.Count))] });
        return page.Write(Path.Combine(folder, FileName));
    }

    // An image element for one of the entry's outputs, or null when the entry has no such output.
    private static string? Output(string folder, ReportedRun run, ManifestEntry entry, string file, string alt)
    {
        if (!entry.Outputs.Contains(file, StringComparer.Ordinal))
        {
            return null;
        }
        string path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(run.Manifest))!, file);
        return HtmlPage.Image(HtmlPage.RelativeUrl(Path.GetFullPath(folder), path), alt);
    }
}
