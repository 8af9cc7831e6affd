using System.CommandLine;
using RelevanceSharp.Vision.Data;
using RelevanceSharp.Vision.Models;
using TextDemo = RelevanceSharp.Language.Demo.TextDemoModel;

namespace RelevanceSharp.Cli.Commands;

/// <summary><c>relevance train-demo</c>: trains one of the built-in demo models.</summary>
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
        var model = new Option<string>("--model")
        {
            Description = "Which demo model: 'densenet' (the small DenseNet for Fashion-MNIST), 'vit' (the small " +
                "vision transformer for Fashion-MNIST) or 'text' (a small LLaMA-layout decoder for key-value recall).",
            DefaultValueFactory = _ => "densenet",
        };
        model.AcceptOnlyFromAmong("densenet", "vit", "text");
        var output = new Option<string?>("--output", "-o")
        {
            Description = "Folder to write the model to [default: assets/demo for the image models, assets/demo/text for the text model].",
        };
        var epochs = new Option<int?>("--epochs") { Description = "Training epochs [default: 6 for densenet, 3 for vit; not for text]." };
        var steps = new Option<int>("--steps") { Description = "Training steps (text model).", DefaultValueFactory = _ => new TextDemo.TrainingOptions().Steps };
        var seed = new Option<long>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 7 };
        var command = new Command("train-demo",
            "Train a built-in demo model and print its test accuracy: a small DenseNet or (--model vit) a small vision transformer on " +
            "Fashion-MNIST, or (--model text) a small decoder on key-value recall prompts, whose answer's token is known.")
        {
            model, data, output, epochs, steps, seed,
        };
        command.WithExamples(
            "The text model is written as a Hugging Face folder (config.json, model.safetensors, tokenizer.json); its\n" +
            "prompts pair keys with digits and then ask for one key ('pairs: cat=3 dog=4 owl=7 | dog'), so the token that\n" +
            "holds each answer is known.",
            "relevance train-demo --output assets/demo",
            "relevance train-demo --model vit --output assets/demo",
            "relevance train-demo --model text --output assets/demo/text");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            string kind = parse.GetValue(model)!;
            if (kind == "text")
            {
                TrainText(parse.GetValue(output) ?? Path.Combine("assets", "demo", TextDemo.FolderName), parse.GetValue(steps), parse.GetValue(seed), writer);
                return;
            }
            string folder = parse.GetValue(data)!;
            bool vit = kind == "vit";
            int count = parse.GetValue(epochs) ?? (vit ? DemoVisionTransformer.DefaultTraining.Epochs : 6);
            if (count < 1)
            {
                throw new ArgumentException("--epochs must be at least 1.");
            }
            using TorchThreads threadCount = TorchThreads.Use(Environment.ProcessorCount);
            writer.WriteLine($"Reading Fashion-MNIST from {folder}");
            FashionMnist train = FashionMnist.Load(folder, train: true);
            FashionMnist test = FashionMnist.Load(folder, train: false);
            string target = parse.GetValue(output) ?? Path.Combine("assets", "demo");
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
