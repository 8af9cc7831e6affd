using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Cli.Commands;

/// <summary>
/// <c>relevance predict IMAGE|FOLDER... --model M</c>: each image's top classes, or with <c>--json</c> one JSON object per
/// image and line with the model's whole output, so that an import can be checked against the framework it came from
/// before its heatmaps are trusted.
/// </summary>
public static class PredictCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs")
        {
            Description = $"Image files and folders (a folder means the {string.Join(", ", ImageFiles.Extensions.Select(e => e[1..]))} files directly inside); in order of file name.",
            Arity = ArgumentArity.OneOrMore,
        };
        var model = new Option<string>("--model", "-m")
        {
            Description = $"'{ExplainModel.DemoName}' (the built-in demo DenseNet), '{ExplainModel.DemoVitName}' (the built-in demo vision transformer), a model zoo architecture (see 'relevance models') or an ONNX file (.onnx).",
            DefaultValueFactory = _ => ExplainModel.DemoName,
        };
        var onnxInput = OnnxOptions.Input();
        var onnxOutput = OnnxOptions.Output(explain: false);
        var weights = new Option<string?>("--weights", "-w") { Description = "Weights of a zoo model: a .pth or .safetensors file. Required for zoo models." };
        var numClasses = new Option<int?>("--num-classes") { Description = "Outputs of a zoo model's classifier [default: 1000]." };
        var demoFolder = new Option<string?>("--demo-folder") { Description = "Folder with the demo model's weights [default: the one shipped with the tool]." };
        var top = new Option<int>("--top", "-k") { Description = "How many classes to list per image.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json")
        {
            Description = "One JSON object per image and line: \"file\", \"logits\" (the model's whole output, flattened) and \"top\" (class, name, score: the softmax probability, or the output where the model ends in a softmax).",
        };
        var size = new Option<int?>("--size") { Description = "Resize the shorter image side to this, as explain does [default: as explain]." };
        var crop = new Option<int?>("--crop") { Description = "Center-crop a square of this side, as explain does [default: as explain]." };
        var mean = new Option<string?>("--mean") { Description = "Normalization means, as explain takes them." };
        var std = new Option<string?>("--std") { Description = "Normalization standard deviations, like --mean." };
        var grayscale = new Option<bool>("--grayscale") { Description = "Read images as one gray channel." };
        var maxPixels = new Option<long>("--max-pixels")
        {
            Description = "Refuse images with more pixels than this, as their header declares them and after resizing.",
            DefaultValueFactory = _ => ImageTransform.DefaultMaxPixels,
        };
        var batchSize = new Option<int>("--batch-size", "-b") { Description = "Images per batch.", DefaultValueFactory = _ => 8 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for the model's operations.", DefaultValueFactory = _ => Environment.ProcessorCount };

        var command = new Command("predict", "Print each image's top classes, or the model's whole output as JSON lines.")
        {
            inputs, model, onnxInput, onnxOutput, weights, numClasses, demoFolder, top, json, size, crop, mean, std, grayscale, maxPixels, batchSize, threads,
        };
        command.WithExamples(
            "Images are prepared as explain prepares them (the same options and defaults). Without --json each image gets a\n" +
            "line with its top classes and their softmax probabilities (or the output itself when the model ends in a softmax).\n" +
            "With --json, compare \"logits\" with what the framework the model came from computes for the same image.",
            "relevance predict photos/ --model model.onnx",
            "relevance predict cat.jpg --model model.onnx --json",
            "relevance predict cat.jpg --model resnet50 --weights resnet50.pth --top 3");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            string[] given = Cli.Paths(parse, inputs);
            int k = parse.GetValue(top);
            if (k < 1)
            {
                throw new ArgumentException($"--top must be at least 1; got {k}.");
            }
            int batch = parse.GetValue(batchSize);
            if (batch < 1)
            {
                throw new ArgumentException($"--batch-size must be at least 1; got {batch}.");
            }
            OnnxImport? onnx = OnnxOptions.Open(parse, model, onnxInput, onnxOutput, weights, numClasses, demoFolder, beforeSoftmax: false);
            string name = onnx?.Path ?? ExplainModel.CheckName(parse.GetValue(model)!);
            ImageTransform transform = ExplainCommand.BuildTransform(onnx?.DefaultTransform ?? ExplainModel.DefaultTransform(name),
                parse.GetValue(size), parse.GetValue(crop), parse.GetValue(mean), parse.GetValue(std), parse.GetValue(grayscale)) with
            { MaxPixels = parse.GetValue(maxPixels) };
            transform.Validate();
            IReadOnlyList<string> images = ImageFiles.Find(given);
            using TorchThreads threadCount = TorchThreads.Use(parse.GetValue(threads));
            using ExplainModel loaded = onnx is not null
                ? onnx.Load(transform)
                : ExplainModel.Load(name, parse.GetValue(weights), parse.GetValue(numClasses), parse.GetValue(demoFolder));
            bool probabilities = onnx is null || !onnx.Interface.BeforeSoftmax.ContainsKey(onnx.Output);
            Predict(loaded, transform, images, batch, k, parse.GetValue(json), probabilities, writer);
        }));
        return command;
    }

    /// <summary>Runs the model on the images, a batch at a time, and writes one line per image.</summary>
    public static void Predict(ExplainModel model, ImageTransform transform, IReadOnlyList<string> images, int batchSize, int top, bool json,
        bool probabilities, TextWriter writer)
    {
        for (int start = 0; start < images.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            string[] files = images.Skip(start).Take(batchSize).ToArray();
            Tensor batch = cat(files.Select(file => ImageIO.LoadInput(file, transform)).ToArray(), 0);
            Tensor output;
            using (no_grad())
            {
                output = model.Module.call(batch).detach().to(ScalarType.Float64).cpu();
            }
            if (output.dim() == 0 || output.shape[0] != files.Length)
            {
                throw new InvalidOperationException($"{model.Description} gave an output of shape [{string.Join(", ", output.shape)}] for {files.Length} images.");
            }
            Tensor flat = output.reshape(files.Length, -1);
            Tensor scores = probabilities ? nn.functional.softmax(flat, 1) : flat;
            for (int i = 0; i < files.Length; i++)
            {
                double[] logits = flat[i].data<double>().ToArray();
                double[] score = scores[i].data<double>().ToArray();
                int[] best = Enumerable.Range(0, logits.Length).OrderByDescending(j => logits[j]).ThenBy(j => j).Take(top).ToArray();
                writer.WriteLine(json ? Json(files[i], logits, best, score, model) : Text(files[i], best, score, model, probabilities));
            }
        }
    }

    private static string Text(string file, int[] best, double[] score, ExplainModel model, bool probabilities) =>
        $"{Path.GetFileName(file)}: " + string.Join(", ", best.Select((j, rank) => string.Create(CultureInfo.InvariantCulture,
            $"{rank + 1}. {model.ClassName(j)} ({(probabilities ? $"{score[j] * 100:F1}%" : $"{score[j]:G6}")})")));

    private static string Json(string file, double[] logits, int[] best, double[] score, ExplainModel model)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("file", file);
            json.WriteStartArray("logits");
            foreach (double value in logits)
            {
                // Round-trip precision, so that a comparison with another framework sees every digit.
                json.WriteNumberValue(value);
            }
            json.WriteEndArray();
            json.WriteStartArray("top");
            foreach (int j in best)
            {
                json.WriteStartObject();
                json.WriteNumber("class", j);
                json.WriteString("name", model.ClassName(j));
                json.WriteNumber("score", score[j]);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
