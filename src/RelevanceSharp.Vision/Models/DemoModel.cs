using System.Diagnostics;
using System.Text.Json;
using RelevanceSharp.Attribution;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.Data;
using RelevanceSharp.Vision.IO;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Vision.Models;

/// <summary>
/// The built-in demo model: a small DenseNet for 28x28 grayscale Fashion-MNIST images whose dense layers are
/// batch norm → ReLU → convolution, exactly the structure the DenseNet canonizers exist for. Its weights and a
/// dozen test images with their labels ship with the project (folder <c>demo</c> next to the executable, or
/// <c>assets/demo</c> in the repository); <see cref="Train"/> reproduces the weights.
/// </summary>
public static class DemoModel
{
    /// <summary>File name of the weights in the demo folder.</summary>
    public const string WeightsFile = "fashion_densenet.safetensors";

    /// <summary>Folder of the sample images in the demo folder.</summary>
    public const string SamplesFolder = "samples";

    /// <summary>File listing the sample images and their labels.</summary>
    public const string LabelsFile = "labels.json";

    /// <summary>Mean and standard deviation of Fashion-MNIST pixels (in [0, 1]), used to normalize inputs.</summary>
    public const float Mean = 0.2860f;

    /// <inheritdoc cref="Mean"/>
    public const float Std = 0.3530f;

    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames => FashionMnist.ClassNames;

    /// <summary>How images are prepared for the model: grayscale, 28x28, normalized.</summary>
    public static ImageTransform Transform { get; } = ImageTransform.SingleChannel(28, 28, Mean, Std);

    /// <summary>The (normalized) pixel range of the inputs, for rules such as ZBox: that of <see cref="Transform"/>.</summary>
    public static InputBounds InputBounds { get; } = InputBounds.FromNormalization([Mean], [Std]);

    /// <summary>Creates the (untrained) architecture.</summary>
    public static DenseNet Create() => new(growthRate: 12, blockConfig: new long[] { 3, 3, 3 }, numInitFeatures: 16,
        bottleneckSize: 4, numClasses: 10, inputChannels: 1, smallInputStem: true);

    /// <summary>The demo folder: <c>demo</c> next to the executable, else <c>assets/demo</c> above the working folder.</summary>
    public static string FindFolder()
    {
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, "demo") };
        for (DirectoryInfo? dir = new(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "assets", "demo"));
        }
        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, WeightsFile)))
            ?? throw new FileNotFoundException(
                $"The demo model ({WeightsFile}) was not found in {string.Join(" or ", candidates.Take(2))}; " +
                "rebuild the command-line tool or run 'relevance train-demo'.");
    }

    /// <summary>Loads the trained demo model (eval mode, float32) from a demo folder.</summary>
    public static DenseNet Load(string? folder = null)
    {
        folder ??= FindFolder();
        DenseNet model = Create();
        Checkpoint.Load(model, Path.Combine(folder, WeightsFile));
        model.eval();
        return model;
    }

    /// <summary>The sample images of a demo folder with their labels.</summary>
    public static IReadOnlyList<(string Path, int Label)> Samples(string? folder = null)
    {
        folder ??= FindFolder();
        string samples = Path.Combine(folder, SamplesFolder);
        using JsonDocument labels = JsonDocument.Parse(File.ReadAllText(Path.Combine(samples, LabelsFile)));
        return labels.RootElement.EnumerateObject()
            .Select(entry => (Path.Combine(samples, entry.Name), entry.Value.GetInt32()))
            .OrderBy(entry => entry.Item1, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Turns uint8 images (N, 28, 28) into normalized model inputs (N, 1, 28, 28).</summary>
    public static Tensor Normalize(Tensor images) =>
        ((images.to(ScalarType.Float32).div(Scalars.Of(255.0f))).sub(Scalars.Of(Mean))).div(Scalars.Of(Std)).unsqueeze(1);

    /// <summary>Settings of <see cref="Train"/>.</summary>
    public sealed record TrainingOptions(int Epochs = 6, int BatchSize = 64, double LearningRate = 2e-3, long Seed = 7);

    /// <summary>
    /// Trains a fresh demo model on the training split (Adam with a cosine learning-rate decay, random horizontal
    /// flips), reporting progress as text; returns the model in eval mode and its test-set accuracy.
    /// </summary>
    public static (DenseNet Model, double Accuracy) Train(FashionMnist train, FashionMnist test, TrainingOptions options, Action<string>? report = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        manual_seed(options.Seed);
        return Fit(Create(), train, test, options, report);
    }

    /// <summary>
    /// Trains <paramref name="model"/> on the training split with <see cref="Train"/>'s recipe (Adam with a cosine
    /// learning-rate decay, random horizontal flips, batches drawn from a generator seeded with the options' seed);
    /// returns it in eval mode with its test-set accuracy.
    /// </summary>
    public static (TModel Model, double Accuracy) Fit<TModel>(TModel model, FashionMnist train, FashionMnist test, TrainingOptions options, Action<string>? report = null)
        where TModel : nn.Module<Tensor, Tensor>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        var optimizer = optim.Adam(model.parameters(), lr: options.LearningRate);
        long count = train.Images.shape[0];
        long steps = (count + options.BatchSize - 1) / options.BatchSize;
        long total = steps * options.Epochs;
        long step = 0;
        using var generator = new Generator((ulong)options.Seed);
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            model.train();
            var clock = Stopwatch.StartNew();
            Tensor order = randperm(count, generator: generator);
            double lossSum = 0;
            for (long start = 0; start < count; start += options.BatchSize)
            {
                using var scope = NewDisposeScope();
                double progress = (double)step / total;
                double rate = options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
                foreach (var group in optimizer.ParamGroups)
                {
                    group.LearningRate = rate;
                }
                Tensor index = order.narrow(0, start, Math.Min(options.BatchSize, count - start));
                Tensor x = Normalize(train.Images.index_select(0, index));
                Tensor flip = rand(x.shape[0], generator: generator).lt(Scalars.Of(0.5)).view(-1, 1, 1, 1);
                x = where(flip, x.flip(3), x);
                Tensor y = train.Labels.index_select(0, index);
                optimizer.zero_grad();
                Tensor loss = nn.functional.cross_entropy(model.call(x), y);
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>() * x.shape[0];
                step++;
            }
            double accuracy = Evaluate(model, test);
            report?.Invoke($"epoch {epoch + 1}/{options.Epochs}: loss {lossSum / count:F4}, test accuracy {accuracy:P2}, {clock.Elapsed.TotalSeconds:F0} s");
        }
        model.eval();
        return (model, Evaluate(model, test));
    }

    /// <summary>The fraction of a dataset the model classifies correctly.</summary>
    public static double Evaluate(nn.Module<Tensor, Tensor> model, FashionMnist data, int batchSize = 500)
    {
        bool training = model.training;
        model.eval();
        long correct = 0;
        long count = data.Images.shape[0];
        using (no_grad())
        {
            for (long start = 0; start < count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                long size = Math.Min(batchSize, count - start);
                Tensor predicted = model.call(Normalize(data.Images.narrow(0, start, size))).argmax(1);
                correct += predicted.eq(data.Labels.narrow(0, start, size)).sum().item<long>();
            }
        }
        model.train(training);
        return (double)correct / count;
    }

    /// <summary>
    /// Writes the weights and a dozen test images (the first test image of each class, then two more) with their
    /// labels into <paramref name="folder"/>.
    /// </summary>
    public static void Save(DenseNet model, FashionMnist test, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(folder);
        SafeTensors.Save(Path.Combine(folder, WeightsFile), model.state_dict(), new Dictionary<string, string>
        {
            ["model"] = "RelevanceSharp demo: DenseNet for Fashion-MNIST",
        });
        SaveSamples(test, folder);
    }

    /// <summary>
    /// Writes a dozen test images (the first test image of each class, then two more) with their labels into the
    /// samples folder of <paramref name="folder"/>; the same images for every demo model.
    /// </summary>
    public static void SaveSamples(FashionMnist test, string folder)
    {
        ArgumentNullException.ThrowIfNull(test);
        Directory.CreateDirectory(Path.Combine(folder, SamplesFolder));
        var chosen = new List<long>();
        long[] labels = test.Labels.data<long>().ToArray();
        for (int label = 0; label < 10; label++)
        {
            chosen.Add(Array.IndexOf(labels, label));
        }
        chosen.AddRange(Enumerable.Range(0, labels.Length).Select(i => (long)i).Where(i => !chosen.Contains(i)).Take(2));
        var manifest = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (long index in chosen)
        {
            int label = (int)labels[index];
            string name = $"{index:D5}_{FashionMnist.ClassNames[label].Replace('/', '-').Replace(' ', '-').ToLowerInvariant()}.png";
            using var scope = NewDisposeScope();
            Tensor image = test.Images[index].to(ScalarType.Float32).div(Scalars.Of(255.0f)).unsqueeze(0);
            ImageIO.SavePng(Path.Combine(folder, SamplesFolder, name), image);
            manifest[name] = label;
        }
        File.WriteAllText(Path.Combine(folder, SamplesFolder, LabelsFile),
            JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
