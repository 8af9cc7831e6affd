using RelevanceSharp.Imaging;
using RelevanceSharp.IO;
using RelevanceSharp.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Evaluation;

/// <summary>
/// A model and the images to evaluate it on, as <c>relevance evaluate</c> prepares them: the built-in demo model
/// (with its sample images unless others are given) or a model zoo architecture with a weights file; images read
/// with the model's transform; input bounds from its normalization.
/// </summary>
public sealed class EvaluationSetup : IDisposable
{
    /// <summary>The name of the built-in demo model.</summary>
    public const string DemoName = "demo";

    /// <summary>The file extensions taken from folders.</summary>
    public static IReadOnlyList<string> ImageExtensions { get; } = [".png", ".jpg", ".jpeg", ".webp", ".bmp"];

    private EvaluationSetup(nn.Module<Tensor, Tensor> model, string description, ImageTransform transform, InputBounds bounds,
        Tensor inputs, IReadOnlyList<string> imagePaths)
    {
        Model = model;
        Description = description;
        Transform = transform;
        Bounds = bounds;
        Inputs = inputs;
        ImagePaths = imagePaths;
    }

    /// <summary>The model, in evaluation mode.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>What the model is, for messages.</summary>
    public string Description { get; }

    /// <summary>How image files become model inputs.</summary>
    public ImageTransform Transform { get; }

    /// <summary>The range of the model's inputs.</summary>
    public InputBounds Bounds { get; }

    /// <summary>The images, as one batch of model inputs <c>(N, C, H, W)</c>.</summary>
    public Tensor Inputs { get; }

    /// <summary>The image files, in the order of <see cref="Inputs"/>.</summary>
    public IReadOnlyList<string> ImagePaths { get; }

    /// <summary>Whether <paramref name="name"/> means the built-in demo model.</summary>
    public static bool IsDemo(string name) => string.Equals(name, DemoName, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Loads the model and the images. The demo model takes no weights file (its own come from
    /// <paramref name="demoFolder"/> or where <see cref="DemoModel.FindFolder"/> finds them) and, without inputs,
    /// its sample images; a zoo model needs <paramref name="weights"/> and inputs, and reads images with
    /// torchvision's ImageNet transform.
    /// </summary>
    /// <param name="model"><see cref="DemoName"/> or a model zoo name.</param>
    /// <param name="weights">The weights file of a zoo model.</param>
    /// <param name="inputs">Image files and folders (a folder stands for its image files, sorted by name).</param>
    /// <param name="numClasses">Outputs of a zoo model's classifier (1000 when <c>null</c>).</param>
    /// <param name="demoFolder">The demo folder, instead of the usual places.</param>
    public static EvaluationSetup Load(string model, string? weights, IReadOnlyList<string> inputs, int? numClasses = null, string? demoFolder = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        nn.Module<Tensor, Tensor> module;
        string description;
        ImageTransform transform;
        InputBounds bounds;
        IReadOnlyList<string> files;
        if (IsDemo(model))
        {
            if (weights is not null)
            {
                throw new ArgumentException("The demo model comes with its own weights; --weights is for zoo models.");
            }
            if (numClasses is not null and not 10)
            {
                throw new ArgumentException($"The demo model has 10 classes, not {numClasses}.");
            }
            string folder = demoFolder ?? DemoModel.FindFolder();
            files = inputs.Count > 0 ? FindImages(inputs) : DemoModel.Samples(folder).Select(s => s.Path).ToArray();
            module = DemoModel.Load(folder);
            description = "the demo model (DenseNet for Fashion-MNIST)";
            transform = DemoModel.Transform;
            var (low, high) = DemoModel.InputBounds;
            bounds = new InputBounds([low], [high]);
        }
        else
        {
            if (!ModelZoo.IsKnown(model))
            {
                throw new ArgumentException($"Unknown model '{model}'; known: {DemoName}, {string.Join(", ", ModelZoo.Names)}.");
            }
            if (weights is null)
            {
                throw new ArgumentException($"The zoo model '{model}' needs a weights file (--weights, .pth or .safetensors).");
            }
            if (inputs.Count == 0)
            {
                throw new ArgumentException("Give the images to evaluate on (files or folders); only the demo model has images of its own.");
            }
            int classes = numClasses ?? 1000;
            files = FindImages(inputs);
            ZooModel zoo = ModelZoo.Create(model, classes);
            try
            {
                Checkpoint.Load(zoo, weights);
            }
            catch
            {
                zoo.Dispose();
                throw;
            }
            module = zoo;
            description = $"{model.ToLowerInvariant()} ({classes} classes)";
            transform = ImageTransform.ImageNet();
            bounds = InputBounds.FromNormalization(transform.Mean, transform.Std);
        }
        module.eval();
        try
        {
            using var scope = NewDisposeScope();
            Tensor batch = cat(files.Select(f => ImageIO.LoadInput(f, transform)).ToList(), 0);
            return new EvaluationSetup(module, description, transform, bounds, batch.MoveToOuterDisposeScope(), files);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The image files of <paramref name="inputs"/>: a file stands for itself, a folder for the files with an image
    /// extension directly inside it, sorted by name; a file named twice is listed once.
    /// </summary>
    /// <exception cref="FileNotFoundException">An input does not exist.</exception>
    /// <exception cref="InvalidDataException">A folder holds no image files.</exception>
    public static IReadOnlyList<string> FindImages(IEnumerable<string> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var files = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string input in inputs)
        {
            IEnumerable<string> found;
            if (File.Exists(input))
            {
                found = [input];
            }
            else if (Directory.Exists(input))
            {
                found = Directory.EnumerateFiles(input)
                    .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (!found.Any())
                {
                    throw new InvalidDataException($"The folder '{input}' holds no image files ({string.Join(", ", ImageExtensions)}).");
                }
            }
            else
            {
                throw new FileNotFoundException($"Input '{input}' does not exist.", input);
            }
            files.AddRange(found.Where(f => seen.Add(Path.GetFullPath(f))));
        }
        return files;
    }

    /// <summary>Releases the model and the inputs.</summary>
    public void Dispose()
    {
        Inputs.Dispose();
        Model.Dispose();
    }
}
