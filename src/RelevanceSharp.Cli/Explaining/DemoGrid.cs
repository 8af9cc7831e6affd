using RelevanceSharp.Attribution;
using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>The demo model's verdict on one sample image.</summary>
/// <param name="Path">The image file.</param>
/// <param name="Label">The stored label.</param>
/// <param name="Predicted">The class the model predicts.</param>
/// <param name="Probability">The softmax probability of the predicted class.</param>
public sealed record DemoPrediction(string Path, int Label, int Predicted, double Probability)
{
    /// <summary>Whether the prediction is the label.</summary>
    public bool Correct => Label == Predicted;
}

/// <summary>What <see cref="DemoGrid.Write"/> wrote and found.</summary>
/// <param name="GridPath">The grid image.</param>
/// <param name="Width">Its width in pixels.</param>
/// <param name="Height">Its height in pixels.</param>
/// <param name="Predictions">The model's prediction for each sample, in the grid's row order.</param>
public sealed record DemoReport(string GridPath, int Width, int Height, IReadOnlyList<DemoPrediction> Predictions)
{
    /// <summary>Samples whose prediction is their label.</summary>
    public int Correct => Predictions.Count(p => p.Correct);

    /// <summary>The fraction of samples predicted correctly.</summary>
    public double Accuracy => Predictions.Count == 0 ? 0 : (double)Correct / Predictions.Count;
}

/// <summary>Layout of the demo grid.</summary>
/// <param name="Scale">Each 28x28 image is enlarged this many times (nearest neighbour), so a cell is 28 * Scale pixels wide.</param>
/// <param name="FontSize">Size of the labels above the cells.</param>
/// <param name="HeaderFontSize">Size of the column-group headers (the composite names).</param>
/// <param name="Spacing">Pixels between cells and around each column group.</param>
public sealed record DemoGridOptions(int Scale = 5, float FontSize = 11f, float HeaderFontSize = 14f, int Spacing = 4);

/// <summary>
/// The built-in demonstration: the demo model explains its sample images under several composites, each without a
/// canonizer and with the two DenseNet canonizers, and the heatmaps are laid out in one labelled grid. Rows are the
/// samples; the first column shows the image with its label (<c>label -&gt; prediction</c> when the model is wrong),
/// then one group of columns per composite, one column per canonizer setting. When the demo folder holds the demo
/// vision transformer's weights, a last group shows it under AttnLRP, CP-LRP, the gradient and attention rollout.
/// Each heatmap explains the class its model predicts.
/// </summary>
public static class DemoGrid
{
    /// <summary>The file name of the grid in the output folder.</summary>
    public const string FileName = "demo.png";

    /// <summary>The composites shown, in column order.</summary>
    public static IReadOnlyList<string> Composites { get; } = ["epsilon_plus_flat", "epsilon_gamma_box", "epsilon_alpha2_beta1_flat"];

    /// <summary>The canonizer settings shown for each composite: none, then the two DenseNet canonizers.</summary>
    public static IReadOnlyList<string?> Canonizers { get; } = [null, "densenet_seq_thresh", "densenet_thresh_seq"];

    /// <summary>The header of the demo vision transformer's column group.</summary>
    public const string TransformerHeader = "vision transformer";

    /// <summary>
    /// The demo vision transformer's columns, shown when its weights are in the demo folder: the label of each column
    /// and the method and composite that make it.
    /// </summary>
    public static IReadOnlyList<(string Label, string Method, string? Composite)> TransformerColumns { get; } =
    [
        ("attnlrp", Gradient.Entry.Name, "attnlrp"),
        ("cp_lrp", Gradient.Entry.Name, "cp_lrp"),
        ("gradient", Gradient.Entry.Name, null),
        ("rollout", AttentionRollout.Entry.Name, null),
    ];

    /// <summary>
    /// Loads the demo model and its samples (from <paramref name="demoFolder"/>, or where
    /// <see cref="DemoModel.FindFolder"/> finds them), explains every sample, and writes the grid as
    /// <see cref="FileName"/> into <paramref name="outputFolder"/> (created if needed).
    /// </summary>
    public static DemoReport Write(string outputFolder, string? demoFolder = null, DemoGridOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(outputFolder);
        options ??= new DemoGridOptions();
        if (options.Scale < 1 || options.Spacing < 0)
        {
            throw new ArgumentException("The grid scale must be at least 1 and the spacing not negative.", nameof(options));
        }
        string folder = ExplainModel.DemoFolder(demoFolder);
        var samples = DemoModel.Samples(folder);
        if (samples.Count == 0)
        {
            throw new InvalidDataException($"The demo folder '{folder}' lists no sample images.");
        }
        using var model = new ExplainModel(DemoModel.Load(folder), "the demo model", DemoModel.Transform, DemoModel.ClassNames);
        using var scope = NewDisposeScope();
        ImageTransform transform = DemoModel.Transform;
        var pictures = samples.Select(s => ImageTransforms.Prepare(ImageIO.Load(s.Path, transform.Grayscale, transform.MaxPixels), transform)).ToList();
        Tensor input = ImageTransforms.Normalize(stack(pictures), transform.Mean, transform.Std);

        long[] predicted;
        double[] probability;
        using (no_grad())
        {
            Tensor output = model.Module.call(input);
            Tensor best = nn.functional.softmax(output, 1).max(1).values;
            predicted = output.argmax(1).data<long>().ToArray();
            probability = best.to_type(ScalarType.Float64).data<double>().ToArray();
        }
        var predictions = samples.Select((s, i) => new DemoPrediction(s.Path, s.Label, (int)predicted[i], probability[i])).ToList();

        var sampleLabels = predictions.Select(p => p.Correct
            ? model.ClassName(p.Label)
            : $"{model.ClassName(p.Label)} -> {model.ClassName(p.Predicted)}").ToList<string?>();
        var columns = new List<Tensor> { Group("input", pictures.Select(p => Enlarge(p, options.Scale)).ToList(), sampleLabels, 1, options) };
        foreach (string name in Composites)
        {
            // One heatmap batch per canonizer setting; the cells are laid out sample by sample.
            var heatmaps = Canonizers.Select(canonizer =>
            {
                AttributionSpec spec = AttributionSpec.Create(Gradient.Entry.Name, composite: name, canonizers: canonizer is null ? [] : [canonizer]);
                Attributor attributor = spec.CreateAttributor(model.Module, AttributionContext.ForInputs(DemoModel.InputBounds));
                using AttributionResult result = attributor.Attribute(input, attributor.ClassTarget(predicted));
                return Heatmap.RenderEach(result.Relevance);
            }).ToList();
            var cells = new List<Tensor>();
            var labels = new List<string?>();
            for (int i = 0; i < samples.Count; i++)
            {
                for (int k = 0; k < Canonizers.Count; k++)
                {
                    cells.Add(Enlarge(heatmaps[k][i], options.Scale));
                    labels.Add(i == 0 ? Canonizers[k] ?? "no canonizer" : null);
                }
            }
            columns.Add(Group(name, cells, labels, Canonizers.Count, options));
        }
        if (File.Exists(Path.Combine(folder, DemoVisionTransformer.WeightsFile)))
        {
            columns.Add(TransformerGroup(folder, input, samples.Count, options));
        }
        Tensor grid = cat(columns, 2);
        Directory.CreateDirectory(outputFolder);
        string path = Path.Combine(outputFolder, FileName);
        ImageIO.SavePng(path, grid);
        return new DemoReport(path, (int)grid.shape[2], (int)grid.shape[1], predictions);
    }

    /// <summary>
    /// The demo vision transformer's column group: each sample explained for the class the transformer predicts, under
    /// <see cref="TransformerColumns"/> (the rollout's 4x4 patch grid spread over each patch's pixels).
    /// </summary>
    private static Tensor TransformerGroup(string folder, Tensor input, int count, DemoGridOptions options)
    {
        using var vit = DemoVisionTransformer.Load(folder);
        long[] predicted;
        using (no_grad())
        {
            predicted = vit.call(input).argmax(1).data<long>().ToArray();
        }
        var heatmaps = TransformerColumns.Select(column =>
        {
            AttributionSpec spec = AttributionSpec.Create(column.Method, composite: column.Composite);
            Attributor attributor = spec.CreateAttributor(vit, AttributionContext.ForInputs(DemoModel.InputBounds));
            using AttributionResult result = attributor.Attribute(input, attributor.ClassTarget(predicted));
            return Heatmap.RenderEach(result.Relevance);
        }).ToList();
        var cells = new List<Tensor>();
        var labels = new List<string?>();
        for (int i = 0; i < count; i++)
        {
            for (int k = 0; k < TransformerColumns.Count; k++)
            {
                cells.Add(Enlarge(heatmaps[k][i], options.Scale));
                labels.Add(i == 0 ? TransformerColumns[k].Label : null);
            }
        }
        return Group(TransformerHeader, cells, labels, TransformerColumns.Count, options);
    }

    /// <summary>Lays cells out in a labelled grid and puts a header above it.</summary>
    private static Tensor Group(string header, IReadOnlyList<Tensor> cells, IReadOnlyList<string?> labels, int columns, DemoGridOptions options)
    {
        Tensor inner = ImageGrid.Grid(cells, labels, new GridOptions(Columns: columns, Spacing: options.Spacing, FontSize: options.FontSize));
        return ImageGrid.Grid([inner], [header], new GridOptions(Columns: 1, Spacing: options.Spacing, FontSize: options.HeaderFontSize));
    }

    /// <summary>Enlarges an image (C, H, W) by repeating each pixel <paramref name="scale"/> times in both directions.</summary>
    private static Tensor Enlarge(Tensor image, int scale) =>
        scale == 1 ? image : image.repeat_interleave(scale, 1).repeat_interleave(scale, 2);
}
