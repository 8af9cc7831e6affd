using System.Diagnostics;
using RelevanceSharp.Attribution;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Vision.Data;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

/// <summary>
/// Images per second of 'relevance evaluate --dataset fashion-mnist --no-randomization' with its defaults: the demo
/// model, the default configurations and the random control, both default baselines, the data set's patches per
/// step and random orders. Fashion-MNIST test images when the package is installed, else random images (the speed
/// does not depend on which).
/// </summary>
internal static class EvaluationRate
{
    public static void Run(BenchOptions options)
    {
        int images = options.Quick ? 20 : 100;
        using DenseNet model = LoadModel(out string weights);
        using Tensor inputs = Images(images, out string source);
        var evaluation = new EvaluationOptions
        {
            Perturbation = new PerturbationSettings
            {
                PatchSize = 4,
                PatchesPerStep = EvaluationDefaults.DatasetPatchesPerStep,
                RandomOrders = EvaluationDefaults.DatasetRandomOrders,
                BatchSize = EvaluationDefaults.BatchSize,
            },
            Baselines = EvaluationDefaults.Baselines.Select(name => PerturbationBaseline.Parse(name)).ToArray(),
            Randomization = null,
        };
        IReadOnlyList<AttributionSpec> configs = EvaluationDefaults.Configurations([]);
        // The command's default for the demo model first: one thread per operation, a perturbation worker per core.
        // Unless --quick, also one worker, and all threads per operation with one worker.
        var setups = new List<(int Threads, int Workers)> { (1, options.Threads) };
        if (!options.Quick)
        {
            setups.Add((1, 1));
            setups.Add((options.Threads, 1));
        }
        foreach (var (threads, workers) in setups.Distinct())
        {
            set_num_threads(threads);
            var counter = new PassCounter();
            var clock = Stopwatch.StartNew();
            EvaluationOptions run = evaluation with { Perturbation = evaluation.Perturbation with { Workers = workers } };
            EvaluationReport report = Evaluator.Run(model, inputs, configs, DemoModel.InputBounds, run, counter);
            double seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"evaluation (demo model, {weights}, {images} {source}, {configs.Count} configurations, " +
                $"{report.Baselines.Count} baselines, {report.Steps} steps of {run.Perturbation.PatchesPerStep} patches, " +
                $"{threads} thread{(threads == 1 ? "" : "s")} per operation, {workers} worker{(workers == 1 ? "" : "s")}): " +
                $"{seconds:F1} s, {images / seconds:F2} images/s, {counter.Passes / seconds:F0} perturbed images/s through the model " +
                "(the first batches of each canonizer trace the model once, which weighs more in a short run)");
        }
        set_num_threads(options.Threads);
    }

    private static DenseNet LoadModel(out string weights)
    {
        try
        {
            weights = "trained weights";
            return DemoModel.Load();
        }
        catch (FileNotFoundException)
        {
            weights = "random weights";
            manual_seed(7);
            DenseNet model = DemoModel.Create();
            model.eval();
            return model;
        }
    }

    private static Tensor Images(int count, out string source)
    {
        if (Directory.Exists(FashionMnist.DebianFolder))
        {
            LabelledImages sample = EvaluationDataset.Load(EvaluationDataset.FashionMnistName, count, 0, DemoModel.Transform, true, FashionMnist.DebianFolder);
            source = "Fashion-MNIST test images";
            return sample.Inputs;
        }
        source = "random images";
        return randn(count, 1, 28, 28);
    }

    // Counts the forward passes of the perturbation stages (the last report of each carries its total).
    private sealed class PassCounter : IProgress<EvaluationProgress>
    {
        public long Passes { get; private set; }

        public void Report(EvaluationProgress value)
        {
            if (value.Stage.StartsWith("perturbation", StringComparison.Ordinal) && value.Done == value.Total)
            {
                Passes += value.Total;
            }
        }
    }
}
