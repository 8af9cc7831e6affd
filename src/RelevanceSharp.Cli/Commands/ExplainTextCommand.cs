using System.CommandLine;
using System.Text;
using RelevanceSharp.Cli.Texts;
using RelevanceSharp.Core;
using RelevanceSharp.IO;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.IO;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Language.Rendering;
using RelevanceSharp.Language.Tokenization;
using static TorchSharp.torch;
using TextDemo = RelevanceSharp.Language.Demo.TextDemoModel;

namespace RelevanceSharp.Cli.Commands;

/// <summary>
/// <c>relevance explain-text</c>: the relevance of each prompt token for a language model's next token, printed on the
/// prompt (colored on a terminal) and written as an HTML page, a PNG and a JSON file.
/// </summary>
public static class ExplainTextCommand
{
    /// <summary>The methods the command offers.</summary>
    public static IReadOnlyList<string> Methods { get; } = DecoderComposites.Names.Concat(new[] { "gradient", "input_x_gradient" }).ToArray();

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A Hugging Face model folder (config.json with model_type llama, mistral or qwen2; model.safetensors or " +
                "shards with model.safetensors.index.json; tokenizer.model or tokenizer.json), or 'demo' for the shipped demo model.",
            Required = true,
        };
        var prompt = new Option<string>("--prompt", "-p") { Description = "The prompt.", Required = true };
        var target = new Option<string?>("--target")
        {
            Description = "The next token to explain: text (its first token as it continues the prompt, e.g. \" Paris\") or a token id " +
                "(#12 forces an id, '12' in quotes a text) [default: the predicted token].",
        };
        var contrast = new Option<string?>("--contrast") { Description = "A token whose score is subtracted from the target's (text or id, as --target)." };
        var composite = new Option<string>("--composite", "-c")
        {
            Description = $"The method: {string.Join(", ", Methods)}.",
            DefaultValueFactory = _ => "attnlrp",
        };
        composite.AcceptOnlyFromAmong(Methods.ToArray());
        var epsilon = new Option<double?>("--epsilon")
        {
            Description = "The stabilizer of the Linear layers under attnlrp and cp_lrp [default: 1e-9, exact input x gradient as LXT's LLaMA recipes].",
        };
        var position = new Option<int>("--position")
        {
            Description = "The token whose next-token prediction is explained, from 0; negative counts from the end.",
            DefaultValueFactory = _ => -1,
        };
        var score = new Option<string>("--score") { Description = "What is explained: logit or log-probability.", DefaultValueFactory = _ => "logit" };
        score.AcceptOnlyFromAmong("logit", "log-probability");
        var generate = new Option<int>("--generate")
        {
            Description = "Generate this many tokens greedily and explain each as it is chosen (one set of files per token).",
        };
        var output = new Option<string>("--output", "-o") { Description = "Output folder.", DefaultValueFactory = _ => "out" };
        var dimensions = new Option<bool>("--dimensions") { Description = "Also write the relevance of every embedding dimension to the JSON file." };
        var dtype = new Option<string>("--dtype") { Description = "The type to compute in: float32 or float64.", DefaultValueFactory = _ => "float32" };
        dtype.AcceptOnlyFromAmong("float32", "float64");
        var color = new Option<string>("--color")
        {
            Description = "Colors on standard output: auto (on a terminal, unless NO_COLOR is set), always, never.",
            DefaultValueFactory = _ => "auto",
        };
        color.AcceptOnlyFromAmong("auto", "always", "never");
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for the computation.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var command = new Command("explain-text",
            "Explain a language model's next token: the relevance of each prompt token, on the prompt, in HTML, PNG and JSON.")
        {
            model, prompt, target, contrast, composite, epsilon, position, score, generate, output, dimensions, dtype, color, threads,
        };
        command.WithExamples(
            "Prints the prompt with each token colored by its relevance (red positive, blue negative; plain numbers when the\n" +
            "output is not a terminal) and writes <output>/explanation.html (self-contained), explanation.png and\n" +
            "explanation.json (token, id, relevance). LRP is seeded with the explained logit, so a conservative method's\n" +
            "relevance sums to it (CP-LRP on a model without biases).",
            "relevance explain-text --model demo --prompt \"pairs: cat=3 dog=4 owl=7 | dog\"",
            "relevance explain-text --model ~/models/Llama-3.2-1B --prompt \"The capital of France is\" --target \" Paris\"",
            "relevance explain-text --model DIR --prompt \"...\" --target \" Paris\" --contrast \" Lyon\" --composite cp_lrp");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            string text = parse.GetValue(prompt)!;
            if (text.Length == 0)
            {
                throw new ArgumentException("--prompt is empty.");
            }
            int steps = parse.GetValue(generate);
            if (steps < 0)
            {
                throw new ArgumentException($"--generate must not be negative; got {steps}.");
            }
            using TorchThreads threadCount = TorchThreads.Use(parse.GetValue(threads));
            string folder = parse.GetValue(model) is "demo" ? TextDemo.FindFolder() : parse.GetValue(model)!;
            if (!Directory.Exists(folder))
            {
                throw new DirectoryNotFoundException($"--model: the folder '{folder}' does not exist.");
            }
            TextTokenizer tokenizer = TextTokenizer.Load(folder);
            using DecoderModel decoder = DecoderCheckpoint.Load(folder, parse.GetValue(dtype) == "float64" ? ScalarType.Float64 : ScalarType.Float32);
            double? eps = parse.GetValue(epsilon);
            TextMethod method = DecoderComposites.Method(parse.GetValue(composite)!, eps is { } e ? new Stabilizer(e) : null);
            var options = new TextExplanationOptions(
                Position: parse.GetValue(position),
                Target: parse.GetValue(target) is { } t ? TokenTarget.Parse(t) : null,
                Contrast: parse.GetValue(contrast) is { } c ? TokenTarget.Parse(c) : null,
                Score: parse.GetValue(score) == "logit" ? ExplainedScore.Logit : ExplainedScore.LogProbability,
                PerDimension: parse.GetValue(dimensions));
            var explainer = new TextExplainer(decoder, tokenizer);
            IReadOnlyList<TextExplanation> explanations = steps > 0
                ? explainer.ExplainGeneration(text, steps, method, options)
                : new[] { explainer.Explain(text, method, options) };
            bool ansi = UseColor(parse.GetValue(color)!, writer);
            string outputFolder = parse.GetValue(output)!;
            Directory.CreateDirectory(outputFolder);
            writer.WriteLine($"{folder}: {decoder.Config.ModelType}, {decoder.Config.Layers} layers, {decoder.Config.ParameterCount:N0} parameters; " +
                $"{tokenizer.Kind} tokenizer");
            for (int i = 0; i < explanations.Count; i++)
            {
                TextExplanation explanation = explanations[i];
                writer.Write(ansi ? TokenHeatmap.Ansi(explanation) : TokenHeatmap.Plain(explanation));
                string name = explanations.Count == 1 ? "explanation" : $"explanation_{i + 1}";
                string path = Path.Combine(outputFolder, name);
                string title = $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)))}: {explanation.Method}";
                AtomicFile.WriteAll(new[]
                {
                    (path + ".html", Encoding.UTF8.GetBytes(TokenHeatmap.Html(explanation, title))),
                    (path + ".png", TokenPng.Render(explanation)),
                    (path + ".json", Encoding.UTF8.GetBytes(TokenHeatmap.Json(explanation, folder))),
                });
                writer.WriteLine($"Wrote {path}.html, {name}.png and {name}.json");
            }
        }));
        return command;
    }

    // ANSI colors only where they are shown: standard output a terminal that is not 'dumb', and no NO_COLOR.
    private static bool UseColor(string setting, TextWriter writer) => setting switch
    {
        "always" => true,
        "never" => false,
        _ => ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected
            && Environment.GetEnvironmentVariable("NO_COLOR") is null
            && Environment.GetEnvironmentVariable("TERM") != "dumb",
    };
}
