using RelevanceSharp.IO;
using RelevanceSharp.Platform;
using RelevanceSharp.Vision.Data;
using RelevanceSharp.Vision.IO;
using static TorchSharp.torch;

namespace RelevanceSharp.Vision.Models;

/// <summary>
/// The demo vision transformer: a small grayscale ViT (<see cref="Options"/>: 28x28 inputs cut into 7x7 patches, so a
/// 4x4 patch grid and 17 tokens; small enough to train in minutes on two cores) trained on Fashion-MNIST. It shares the demo folder, the samples, the class names and
/// the preprocessing (<see cref="DemoModel.Transform"/>) with the DenseNet demo; its weights ship beside that model's as
/// <see cref="WeightsFile"/>, and <see cref="Train"/> reproduces them.
/// </summary>
public static class DemoVisionTransformer
{
    static DemoVisionTransformer() => CpuGuard.Ensure();

    /// <summary>File name of the weights in the demo folder.</summary>
    public const string WeightsFile = "fashion_vit.safetensors";

    /// <summary>The sizes: 28-pixel grayscale images, 7-pixel patches, 2 blocks of 2 heads, tokens of 32, MLPs of 64, 10 classes.</summary>
    public static VisionTransformerOptions Options { get; } = new(
        ImageSize: 28, PatchSize: 7, NumLayers: 2, NumHeads: 2, HiddenDim: 32, MlpDim: 64, NumClasses: 10, Channels: 1);

    /// <summary>The training settings that produced the shipped weights (Adam, cosine decay, random flips, seed 7).</summary>
    public static DemoModel.TrainingOptions DefaultTraining { get; } = new(Epochs: 3, BatchSize: 128, LearningRate: 2e-3, Seed: 7);

    /// <summary>Creates the (untrained) architecture with torchvision's initialization.</summary>
    public static VisionTransformer Create() => new(Options);

    /// <summary>Loads the trained demo ViT (eval mode, float32) from a demo folder (default: <see cref="DemoModel.FindFolder"/>).</summary>
    public static VisionTransformer Load(string? folder = null)
    {
        folder ??= DemoModel.FindFolder();
        string path = Path.Combine(folder, WeightsFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"The demo vision transformer ({WeightsFile}) was not found in {folder}; run 'relevance train-demo --model vit'.", path);
        }
        VisionTransformer model = Create();
        Checkpoint.Load(model, path);
        model.eval();
        return model;
    }

    /// <summary>
    /// Trains a fresh demo ViT on the training split with <see cref="DemoModel.Fit"/>'s recipe, reporting progress as
    /// text; returns the model in eval mode and its test-set accuracy.
    /// </summary>
    public static (VisionTransformer Model, double Accuracy) Train(FashionMnist train, FashionMnist test, DemoModel.TrainingOptions? options = null, Action<string>? report = null)
    {
        options ??= DefaultTraining;
        manual_seed(options.Seed);
        return DemoModel.Fit(Create(), train, test, options, report);
    }

    /// <summary>Writes the weights and the demo samples (<see cref="DemoModel.SaveSamples"/>) into <paramref name="folder"/>.</summary>
    public static void Save(VisionTransformer model, FashionMnist test, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(folder);
        SafeTensors.Save(Path.Combine(folder, WeightsFile), model.state_dict(), new Dictionary<string, string>
        {
            ["model"] = "RelevanceSharp demo: vision transformer for Fashion-MNIST",
        });
        DemoModel.SaveSamples(test, folder);
    }
}
