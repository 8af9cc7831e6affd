using System.CommandLine;
using RelevanceSharp.Vision.Data;
using RelevanceSharp.Vision.Models;
using TextDemo = RelevanceSharp.Language.Demo.TextDemoModel;

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
        var kind = new Option<string>("--model")
        {
            Description = "Which demo model: image (a DenseNet for Fashion-MNIST) or text (a small LLaMA-layout decoder for key-value recall).",
            DefaultValueFactory = _ => "image",
        };
        kind.AcceptOnlyFromAmong("image", "text");
        var output = new Option<string?>("--output", "-o")
        {
            Description = "Folder to write the model to [default: assets/demo for the image model, assets/demo/text for the text model].",
        };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs (image model).", DefaultValueFactory = _ => 6 };
        var steps = new Option<int>("--steps") { Description = "Training steps (text model).", DefaultValueFactory = _ => new TextDemo.TrainingOptions().Steps };
        var seed = new Option<long>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 7 };
        var command = new Command("train-demo",
            "Train a built-in demo model and print its test accuracy: the image model (a small DenseNet) on Fashion-MNIST, or the text " +
            "model (a small decoder) on key-value recall prompts, whose answer's token is known.")
        {
            kind, data, output, epochs, steps, seed,
        };
        command.WithExamples(
            "The text model is written as a Hugging Face folder (config.json, model.safetensors, tokenizer.json); its\n" +
            "prompts pair keys with digits and then ask for one key ('pairs: cat=3 dog=4 owl=7 | dog'), so the token that\n" +
            "holds each answer is known.",
            "relevance train-demo --output assets/demo",
            "relevance train-demo --model text --output assets/demo/text");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            if (parse.GetValue(kind) == "text")
            {
                TrainText(parse.GetValue(output) ?? Path.Combine("assets", "demo", TextDemo.FolderName), parse.GetValue(steps), parse.GetValue(seed), writer);
                return;
            }
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
            string target = parse.GetValue(output) ?? Path.Combine("assets", "demo");
            DemoModel.Save(model, test, target);
            writer.WriteLine($"test accuracy {accuracy:P2}; weights and samples written to {Path.GetFullPath(target)}");
        }));
        return command;
    }

    private static void TrainText(string target, int steps, long seed, TextWriter writer)
    {
        if (steps < 1)
        {
            throw new ArgumentException("--steps must be at least 1.");
        }
        if (seed is < int.MinValue or > int.MaxValue)
        {
            throw new ArgumentException($"--seed must fit 32 bits for the text model; got {seed}.");
        }
        using TorchThreads threadCount = TorchThreads.Use(1);
        var options = new TextDemo.TrainingOptions(Steps: steps, Seed: (int)seed);
        var (model, accuracy) = TextDemo.Train(options, report: writer.WriteLine);
        using (model)
        {
            TextDemo.Save(model, target);
        }
        writer.WriteLine($"accuracy on 1,000 new prompts {accuracy:P2}; the model folder written to {Path.GetFullPath(target)}");
    }
}
