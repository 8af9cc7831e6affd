using System.CommandLine;
using RelevanceSharp.Vision.Data;
using RelevanceSharp.Vision.Models;

namespace RelevanceSharp.Cli.Commands;

/// <summary><c>relevance train-demo</c>: trains the built-in demo model on Fashion-MNIST.</summary>
public static class TrainDemoCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var data = new Option<string>("--data")
        {
            Description = "Folder holding the Fashion-MNIST idx files (Debian package dataset-fashion-mnist).",
            DefaultValueFactory = _ => FashionMnist.DebianFolder,
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder to write the weights and sample images to.",
            DefaultValueFactory = _ => Path.Combine("assets", "demo"),
        };
        var model = new Option<string>("--model")
        {
            Description = "Which demo model: 'densenet' (the small DenseNet) or 'vit' (the small vision transformer).",
            DefaultValueFactory = _ => "densenet",
        };
        model.AcceptOnlyFromAmong("densenet", "vit");
        var epochs = new Option<int?>("--epochs") { Description = "Training epochs [default: 6 for densenet, 3 for vit]." };
        var seed = new Option<long>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 7 };
        var command = new Command("train-demo", "Train a built-in demo model (a small DenseNet, or with --model vit a small vision transformer) on Fashion-MNIST and print its test accuracy.")
        {
            model, data, output, epochs, seed,
        };
        command.WithExamples("", "relevance train-demo --output assets/demo", "relevance train-demo --model vit --output assets/demo");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            string folder = parse.GetValue(data)!;
            bool vit = parse.GetValue(model) == "vit";
            int count = parse.GetValue(epochs) ?? (vit ? DemoVisionTransformer.DefaultTraining.Epochs : 6);
            if (count < 1)
            {
                throw new ArgumentException("--epochs must be at least 1.");
            }
            using TorchThreads threadCount = TorchThreads.Use(Environment.ProcessorCount);
            writer.WriteLine($"Reading Fashion-MNIST from {folder}");
            FashionMnist train = FashionMnist.Load(folder, train: true);
            FashionMnist test = FashionMnist.Load(folder, train: false);
            string target = parse.GetValue(output)!;
            double accuracy;
            if (vit)
            {
                var options = DemoVisionTransformer.DefaultTraining with { Epochs = count, Seed = parse.GetValue(seed) };
                var (trained, result) = DemoVisionTransformer.Train(train, test, options, writer.WriteLine);
                using (trained)
                {
                    DemoVisionTransformer.Save(trained, test, target);
                }
                accuracy = result;
            }
            else
            {
                var options = new DemoModel.TrainingOptions(Epochs: count, Seed: parse.GetValue(seed));
                var (trained, result) = DemoModel.Train(train, test, options, writer.WriteLine);
                using (trained)
                {
                    DemoModel.Save(trained, test, target);
                }
                accuracy = result;
            }
            writer.WriteLine($"test accuracy {accuracy:P2}; weights and samples written to {Path.GetFullPath(target)}");
        }));
        return command;
    }
}
