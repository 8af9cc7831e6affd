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
        var epochs = new Option<int>("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => 6 };
        var seed = new Option<long>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 7 };
        var command = new Command("train-demo", "Train the built-in demo model (a small DenseNet) on Fashion-MNIST and print its test accuracy.")
        {
            data, output, epochs, seed,
        };
        command.WithExamples("", "relevance train-demo --output assets/demo");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            string folder = parse.GetValue(data)!;
            int count = parse.GetValue(epochs);
            if (count < 1)
            {
                throw new ArgumentException("--epochs must be at least 1.");
            }
            using TorchThreads threadCount = TorchThreads.Use(Environment.ProcessorCount);
            writer.WriteLine($"Reading Fashion-MNIST from {folder}");
            FashionMnist train = FashionMnist.Load(folder, train: true);
            FashionMnist test = FashionMnist.Load(folder, train: false);
            var options = new DemoModel.TrainingOptions(Epochs: count, Seed: parse.GetValue(seed));
            var (model, accuracy) = DemoModel.Train(train, test, options, writer.WriteLine);
            string target = parse.GetValue(output)!;
            DemoModel.Save(model, test, target);
            writer.WriteLine($"test accuracy {accuracy:P2}; weights and samples written to {Path.GetFullPath(target)}");
        }));
        return command;
    }
}
