using System.Globalization;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.IO;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>
/// A model to explain, with how its inputs are prepared and (where known) its class names: a model zoo
/// architecture with a weights file, the built-in demo model, or any module.
/// </summary>
public sealed class ExplainModel : IDisposable
{
    /// <summary>The name of the built-in demo model.</summary>
    public const string DemoName = "demo";

    /// <summary>The name of the built-in demo vision transformer (<see cref="DemoVisionTransformer"/>), which shares the demo folder and samples.</summary>
    public const string DemoVitName = "demo-vit";

    /// <summary>Wraps a module (put in evaluation mode); the model owns it from now on.</summary>
    /// <param name="module">The network.</param>
    /// <param name="description">What it is, for messages (e.g. <c>resnet18 (10 classes)</c>).</param>
    /// <param name="transform">How image files become its inputs.</param>
    /// <param name="classNames">Names of the outputs, or <c>null</c> to show class indices.</param>
    public ExplainModel(nn.Module<Tensor, Tensor> module, string description, ImageTransform transform, IReadOnlyList<string>? classNames = null)
    {
        Module = module ?? throw new ArgumentNullException(nameof(module));
        Description = description ?? throw new ArgumentNullException(nameof(description));
        Transform = transform ?? throw new ArgumentNullException(nameof(transform));
        ClassNames = classNames;
        Module.eval();
    }

    /// <summary>The network.</summary>
    public nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>What the model is, for messages.</summary>
    public string Description { get; }

    /// <summary>How image files become inputs of this model.</summary>
    public ImageTransform Transform { get; }

    /// <summary>Names of the outputs, or <c>null</c>.</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>The names <see cref="Load"/> accepts: <see cref="DemoName"/>, <see cref="DemoVitName"/> and the model zoo's architectures.</summary>
    public static IEnumerable<string> Names => new[] { DemoName, DemoVitName }.Concat(ModelZoo.Names);

    /// <summary>The name of class <paramref name="index"/>, or the index itself when the model has no class names.</summary>
    public string ClassName(long index) =>
        ClassNames is not null && index >= 0 && index < ClassNames.Count
            ? ClassNames[(int)index]
            : index.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// How image files become inputs of the named model: <see cref="DemoModel.Transform"/> for the demo model, the zoo
    /// entry's transform for zoo models (torchvision's evaluation transform of its published weights: resize 256, crop
    /// 224, ImageNet mean and std, unless the architecture's weights say otherwise), and for a vision transformer built
    /// for another <paramref name="imageSize"/> a resize and crop to that size.
    /// </summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the known names.</exception>
    public static ImageTransform DefaultTransform(string name, long? imageSize = null)
    {
        if (IsDemo(CheckName(name)))
        {
            return DemoModel.Transform;
        }
        return IsVisionTransformer(name) ? VisionTransformer.DefaultTransform(name, imageSize) : ModelZoo.Get(name).Transform;
    }

    /// <summary>Whether <paramref name="name"/> is one of the zoo's vision transformers (<c>vit_b_16</c>, ...).</summary>
    public static bool IsVisionTransformer(string name) => VisionTransformer.Variants.ContainsKey(name.ToLowerInvariant());

    /// <summary>Whether <paramref name="name"/> is a built-in demo model (the DenseNet or the vision transformer), for Fashion-MNIST images.</summary>
    public static bool IsDemo(string name) =>
        string.Equals(name, DemoName, StringComparison.OrdinalIgnoreCase) || string.Equals(name, DemoVitName, StringComparison.OrdinalIgnoreCase);

    /// <summary>Throws when <paramref name="name"/> is neither the demo model nor a zoo architecture; returns it otherwise.</summary>
    public static string CheckName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!IsDemo(name) && !ModelZoo.IsKnown(name))
        {
            throw new ArgumentException($"Unknown model '{name}'; known models: {string.Join(", ", Names)}.");
        }
        return name;
    }

    /// <summary>
    /// Loads a model by name. A zoo architecture needs a weights file (<c>.pth</c> or <c>.safetensors</c>), which
    /// is loaded strictly; the demo model comes with its weights, from <paramref name="demoFolder"/> or the
    /// folder <see cref="DemoModel.FindFolder"/> finds.
    /// </summary>
    /// <param name="name">A name of <see cref="Names"/>.</param>
    /// <param name="weights">The weights file of a zoo model; must be <c>null</c> for the demo model.</param>
    /// <param name="numClasses">Outputs of a zoo model's classifier (1000 when <c>null</c>); must be <c>null</c> or 10 for the demo model.</param>
    /// <param name="demoFolder">Where the demo model's weights are, instead of the usual places.</param>
    /// <param name="allowNonFiniteWeights">Whether weights holding NaN or infinite values are loaded instead of refused.</param>
    /// <param name="imageSize">For a vision transformer, the side of its input images (its position embedding has one
    /// entry per patch of them), as torchvision builds it for weights trained at another size; <c>null</c> for the zoo's.</param>
    /// <exception cref="ArgumentException">The name is unknown, or an argument does not fit the model.</exception>
    /// <exception cref="FileNotFoundException">The weights file does not exist.</exception>
    /// <exception cref="InvalidDataException">The weights file is not a checkpoint, or does not fit the architecture.</exception>
    public static ExplainModel Load(string name, string? weights = null, int? numClasses = null, string? demoFolder = null,
        bool allowNonFiniteWeights = false, long? imageSize = null)
    {
        CheckName(name);
        if (imageSize is not null && !IsVisionTransformer(name))
        {
            throw new ArgumentException($"An image size is for the vision transformers (vit_b_16, ...); '{name}' takes images of any size.");
        }
        if (IsDemo(name))
        {
            if (weights is not null)
            {
                throw new ArgumentException("The demo model comes with its own weights; a weights file is only for zoo models.");
            }
            if (numClasses is not null and not 10)
            {
                throw new ArgumentException($"The demo model has 10 classes, not {numClasses}.");
            }
            string folder = DemoFolder(demoFolder);
            return string.Equals(name, DemoVitName, StringComparison.OrdinalIgnoreCase)
                ? new ExplainModel(DemoVisionTransformer.Load(folder), "the demo vision transformer (ViT for Fashion-MNIST)", DemoModel.Transform, DemoModel.ClassNames)
                : new ExplainModel(DemoModel.Load(folder), "the demo model (DenseNet for Fashion-MNIST)", DemoModel.Transform, DemoModel.ClassNames);
        }
        if (weights is null)
        {
            throw new ArgumentException($"The zoo model '{name}' needs a weights file (.pth or .safetensors).");
        }
        InputFile.Check(weights, "weights file");
        int classes = numClasses ?? 1000;
        if (classes < 1)
        {
            throw new ArgumentException($"The number of classes must be at least 1; got {classes}.");
        }
        ZooModel model = imageSize is { } side
            ? new VisionTransformer(VisionTransformer.Variants[name.ToLowerInvariant()] with { ImageSize = side, NumClasses = classes })
            : ModelZoo.Create(name, classes);
        model.eval();
        string described = imageSize is { } pixels ? $"{name.ToLowerInvariant()} ({classes} classes, {pixels}-pixel images)" : $"{name.ToLowerInvariant()} ({classes} classes)";
        try
        {
            Checkpoint.Load(model, weights, allowNonFinite: allowNonFiniteWeights);
        }
        catch (StateDictMismatchException ex)
        {
            model.Dispose();
            string hint = IsVisionTransformer(name) && ex.ShapeMismatches.Any(m => m.StartsWith("encoder.pos_embedding ", StringComparison.Ordinal))
                ? "; weights trained on other image sizes need --image-size"
                : "";
            throw new InvalidDataException($"{ex.Message.TrimEnd('.')} ({name.ToLowerInvariant()} with {classes} classes{hint}).", ex);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new ExplainModel(model, described, DefaultTransform(name, imageSize));
    }

    /// <summary>
    /// The demo folder to use: <paramref name="folder"/> if given (it must hold the demo weights), else the one
    /// <see cref="DemoModel.FindFolder"/> finds.
    /// </summary>
    /// <exception cref="FileNotFoundException">The folder has no demo weights, or none was found.</exception>
    public static string DemoFolder(string? folder)
    {
        if (folder is null)
        {
            return DemoModel.FindFolder();
        }
        if (!File.Exists(Path.Combine(folder, DemoModel.WeightsFile)))
        {
            throw new FileNotFoundException(
                Directory.Exists(folder)
                    ? $"The demo folder '{folder}' holds no {DemoModel.WeightsFile}."
                    : $"The demo folder '{folder}' does not exist.",
                Path.Combine(folder, DemoModel.WeightsFile));
        }
        return folder;
    }

    /// <summary>Releases the network's tensors.</summary>
    public void Dispose() => Module.Dispose();
}
