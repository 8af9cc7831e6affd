using RelevanceSharp.Attribution;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Cli.Evaluating;

/// <summary>
/// A model and the images to evaluate it on, as <c>relevance evaluate</c> prepares them: the built-in demo model
/// (with its sample images unless others are given) or a model zoo architecture with a weights file; images read
/// with the model's transform, or a labelled data set (<see cref="EvaluationDataset"/>); input bounds from its
/// normalization.
/// </summary>
public sealed class EvaluationSetup : IDisposable
{
    private EvaluationSetup(nn.Module<Tensor, Tensor> model, string description, ImageTransform transform, InputBounds bounds,
        Tensor inputs, IReadOnlyList<string> imagePaths, IReadOnlyList<string> imageNames, string imagesDescription)
    {
        Model = model;
        Description = description;
        Transform = transform;
        Bounds = bounds;
        Inputs = inputs;
        ImagePaths = imagePaths;
        ImageNames = imageNames;
        ImagesDescription = imagesDescription;
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

    /// <summary>The image files, in the order of <see cref="Inputs"/> (empty for Fashion-MNIST, whose images are not files).</summary>
    public IReadOnlyList<string> ImagePaths { get; }

    /// <summary>A name per image, in the order of <see cref="Inputs"/>: the file name, or the data set's name.</summary>
    public IReadOnlyList<string> ImageNames { get; }

    /// <summary>What the images are, for messages.</summary>
    public string ImagesDescription { get; }

    /// <summary>The true class of each image when it comes from a labelled data set, else <c>null</c>.</summary>
    public IReadOnlyList<long>? Labels { get; private init; }

    /// <summary>
    /// Loads the model and the images. The model is loaded as <see cref="ExplainModel.Load"/> loads it (with its
    /// checks and messages); the images are found as <see cref="ImageFiles.Find"/> finds them. The demo model takes no
    /// weights file and, without inputs, evaluates its sample images; a zoo model needs <paramref name="weights"/>
    /// and inputs, and reads images with torchvision's ImageNet transform.
    /// </summary>
    /// <param name="model"><see cref="ExplainModel.DemoName"/> or a model zoo name.</param>
    /// <param name="weights">The weights file of a zoo model.</param>
    /// <param name="inputs">Image files and folders (a folder stands for its image files, sorted by name).</param>
    /// <param name="numClasses">Outputs of a zoo model's classifier (1000 when <c>null</c>).</param>
    /// <param name="demoFolder">The demo folder, instead of the usual places.</param>
    /// <param name="allowNonFiniteWeights">Whether weights holding NaN or infinite values are loaded instead of refused.</param>
    public static EvaluationSetup Load(string model, string? weights, IReadOnlyList<string> inputs, int? numClasses = null, string? demoFolder = null,
        bool allowNonFiniteWeights = false)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return WithModel(model, weights, numClasses, demoFolder, allowNonFiniteWeights, (loaded, demo, bounds) =>
        {
            if (!demo && inputs.Count == 0)
            {
                throw new ArgumentException("Give the images to evaluate on (files or folders); only the demo model has images of its own.");
            }
            IReadOnlyList<string> files = inputs.Count > 0
                ? ImageFiles.Find(inputs)
                : DemoModel.Samples(ExplainModel.DemoFolder(demoFolder)).Select(sample => sample.Path).ToArray();
            using var scope = NewDisposeScope();
            Tensor batch = cat(files.Select(f => ImageIO.LoadInput(f, loaded.Transform)).ToList(), 0);
            return new EvaluationSetup(loaded.Module, loaded.Description, loaded.Transform, bounds, batch.MoveToOuterDisposeScope(), files,
                files.Select(f => Path.GetFileName(f)).ToArray(), $"{files.Count} image(s)");
        });
    }

    /// <summary>
    /// Loads the model as <see cref="Load"/> does and a sample of a labelled data set
    /// (<see cref="EvaluationDataset.Load"/>) as its images.
    /// </summary>
    /// <param name="model"><see cref="ExplainModel.DemoName"/> or a model zoo name.</param>
    /// <param name="weights">The weights file of a zoo model.</param>
    /// <param name="dataset"><c>fashion-mnist</c> (demo model only) or <c>folder:PATH</c>.</param>
    /// <param name="count">Images in the stratified sample, or <c>null</c> for all.</param>
    /// <param name="seed">Seed of the sample.</param>
    /// <param name="fashionFolder">Folder holding the Fashion-MNIST idx files.</param>
    /// <param name="numClasses">Outputs of a zoo model's classifier (1000 when <c>null</c>).</param>
    /// <param name="demoFolder">The demo folder, instead of the usual places.</param>
    /// <param name="allowNonFiniteWeights">Whether weights holding NaN or infinite values are loaded instead of refused.</param>
    public static EvaluationSetup LoadDataset(string model, string? weights, string dataset, int? count, long seed, string fashionFolder,
        int? numClasses = null, string? demoFolder = null, bool allowNonFiniteWeights = false)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        // A misspelt data set fails before the model is read.
        EvaluationDataset.CheckName(dataset);
        return WithModel(model, weights, numClasses, demoFolder, allowNonFiniteWeights, (loaded, demo, bounds) =>
        {
            LabelledImages images = EvaluationDataset.Load(dataset, count, seed, loaded.Transform, demo, fashionFolder);
            return new EvaluationSetup(loaded.Module, loaded.Description, loaded.Transform, bounds, images.Inputs, [], images.Names, images.Description)
            {
                Labels = images.Labels,
            };
        });
    }

    // Loads the model and hands it, whether it is the demo model, and its input bounds to `images`; the model is
    // released when that fails.
    private static EvaluationSetup WithModel(string model, string? weights, int? numClasses, string? demoFolder, bool allowNonFiniteWeights,
        Func<ExplainModel, bool, InputBounds, EvaluationSetup> images)
    {
        ExplainModel loaded = ExplainModel.Load(model, weights, numClasses, demoFolder, allowNonFiniteWeights);
        try
        {
            bool demo = ExplainModel.IsDemo(model);
            return images(loaded, demo, InputBounds.FromNormalization(loaded.Transform.Mean, loaded.Transform.Std));
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>Releases the model and the inputs.</summary>
    public void Dispose()
    {
        Inputs.Dispose();
        Model.Dispose();
    }
}
