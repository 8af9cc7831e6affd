using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.Data;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>Labelled images ready for a model: the inputs, a name and the true class of each.</summary>
/// <param name="Inputs">The images as one batch of model inputs <c>(N, C, H, W)</c>.</param>
/// <param name="Names">A name per image (e.g. <c>t10k-00042</c>, or <c>class/file.png</c>).</param>
/// <param name="Labels">The true class of each image.</param>
/// <param name="Description">What the images are, for messages.</param>
public sealed record LabelledImages(Tensor Inputs, IReadOnlyList<string> Names, IReadOnlyList<long> Labels, string Description);

/// <summary>
/// The data sets <c>relevance evaluate --dataset</c> reads: <c>fashion-mnist</c>, the test split of Debian's
/// <c>dataset-fashion-mnist</c> package (for the demo model), or <c>folder:PATH</c>, a folder with one subfolder of
/// images per class (class index = position of the subfolder in ordinal name order), for any model. A sample of
/// <c>count</c> images is stratified and seeded (<see cref="StratifiedSample"/>).
/// </summary>
public static class EvaluationDataset
{
    /// <summary>The name of the Fashion-MNIST test split.</summary>
    public const string FashionMnistName = "fashion-mnist";

    /// <summary>The prefix of a folder of class subfolders.</summary>
    public const string FolderPrefix = "folder:";

    /// <summary>Checks a data set's text (name or <c>folder:PATH</c>) without reading it.</summary>
    /// <exception cref="ArgumentException">The text names no data set.</exception>
    public static void CheckName(string dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        bool folder = dataset.StartsWith(FolderPrefix, StringComparison.Ordinal) && dataset.Length > FolderPrefix.Length;
        if (!folder && dataset != FashionMnistName)
        {
            throw new ArgumentException($"--dataset takes '{FashionMnistName}' or '{FolderPrefix}PATH' (one subfolder of images per class); got '{dataset}'.");
        }
    }

    /// <summary>Reads a sample of the data set as <paramref name="transform"/> prepares images for the model.</summary>
    /// <param name="dataset"><see cref="FashionMnistName"/> or <c>folder:PATH</c>.</param>
    /// <param name="count">How many images (a multiple of the classes), or <c>null</c> for all of them.</param>
    /// <param name="seed">Seed of the sample.</param>
    /// <param name="transform">How the model takes images (for <c>folder:PATH</c>).</param>
    /// <param name="demoModel">Whether the model is the demo model, the only one Fashion-MNIST fits.</param>
    /// <param name="fashionFolder">Folder holding the Fashion-MNIST idx files.</param>
    public static LabelledImages Load(string dataset, int? count, long seed, ImageTransform transform, bool demoModel, string fashionFolder)
    {
        CheckName(dataset);
        ArgumentNullException.ThrowIfNull(transform);
        if (dataset != FashionMnistName)
        {
            return LoadFolder(dataset[FolderPrefix.Length..], count, seed, transform);
        }
        if (!demoModel)
        {
            throw new ArgumentException($"--dataset {FashionMnistName} holds 28x28 grayscale images for the demo model; give a zoo model a {FolderPrefix}PATH data set.");
        }
        return LoadFashionMnist(count, seed, fashionFolder);
    }

    private static LabelledImages LoadFashionMnist(int? count, long seed, string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException(
                $"The Fashion-MNIST test set is not installed: {folder} does not exist. Install the Debian package dataset-fashion-mnist " +
                "(apt-get install dataset-fashion-mnist) or give the folder holding its idx files with --data.");
        }
        using var scope = NewDisposeScope();
        FashionMnist test = FashionMnist.Load(folder, train: false);
        long[] labels = test.Labels.data<long>().ToArray();
        int[] chosen = count is int n ? StratifiedSample.Draw(labels, n, seed) : Enumerable.Range(0, labels.Length).ToArray();
        Tensor images = test.Images.index_select(0, tensor(chosen.Select(i => (long)i).ToArray()));
        Tensor inputs = DemoModel.Normalize(images).MoveToOuterDisposeScope();
        return new LabelledImages(inputs, chosen.Select(i => $"t10k-{i:D5}").ToArray(), chosen.Select(i => labels[i]).ToArray(),
            $"{chosen.Length} Fashion-MNIST test images{(count is null ? "" : $" ({chosen.Length / 10} per class, seed {seed})")}");
    }

    private static LabelledImages LoadFolder(string folder, int? count, long seed, ImageTransform transform)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"--dataset {FolderPrefix}{folder}: the folder does not exist.");
        }
        string[] classes = Directory.GetDirectories(folder)
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal)
            .ToArray();
        if (classes.Length == 0)
        {
            throw new InvalidDataException($"--dataset {FolderPrefix}{folder}: the folder holds no class subfolders (one folder of images per class).");
        }
        var files = new List<(string Path, long Label)>();
        for (int c = 0; c < classes.Length; c++)
        {
            files.AddRange(ImageFiles.Find([classes[c]]).Select(f => (f, (long)c)));
        }
        int[] chosen = count is int n ? StratifiedSample.Draw(files.Select(f => f.Label).ToArray(), n, seed) : Enumerable.Range(0, files.Count).ToArray();
        using var scope = NewDisposeScope();
        Tensor inputs = cat(chosen.Select(i => ImageIO.LoadInput(files[i].Path, transform)).ToList(), 0).MoveToOuterDisposeScope();
        return new LabelledImages(inputs,
            chosen.Select(i => $"{Path.GetFileName(classes[files[i].Label])}/{Path.GetFileName(files[i].Path)}").ToArray(),
            chosen.Select(i => files[i].Label).ToArray(),
            $"{chosen.Length} images of {classes.Length} classes from {folder}{(count is null ? "" : $" ({chosen.Length / classes.Length} per class, seed {seed})")}");
    }
}
