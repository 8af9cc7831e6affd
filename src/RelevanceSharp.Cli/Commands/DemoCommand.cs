using System.CommandLine;
using System.Globalization;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.IO;
using RelevanceSharp.Language.Demo;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.IO;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Language.Rendering;
using RelevanceSharp.Language.Tokenization;
using RelevanceSharp.Vision.Models;
using TextDemo = RelevanceSharp.Language.Demo.TextDemoModel;

namespace RelevanceSharp.Cli.Commands;

/// <summary><c>relevance demo</c>: the built-in demonstration grid.</summary>
public static class DemoCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--output", "-o") { Description = "Output folder.", DefaultValueFactory = _ => "out" };
        var demoFolder = new Option<string?>("--demo-folder")
        {
            Description = "Folder with the demo model's weights and samples (as written by 'relevance train-demo') [default: the one shipped with the tool].",
        };
        var groundTruth = new Option<int>("--ground-truth")
        {
            Description = "Also run the ground-truth table of the text demo on this many recall prompts: how often each method's largest " +
                "relevance lands on the token that holds the answer.",
        };
        var command = new Command("demo",
            "Explain the demo model's sample images under several composites and canonizers, in one labelled grid, then a few prompts of the text demo model.")
        {
            output, demoFolder, groundTruth,
        };
        command.WithExamples(
            $"Writes <output>/{DemoGrid.FileName}: rows are the samples (Fashion-MNIST images), columns the composites\n" +
            $"{string.Join(", ", DemoGrid.Composites)},\n" +
            "each without a canonizer, with densenet_seq_thresh and with densenet_thresh_seq, then the demo vision transformer\n" +
            "under attnlrp, cp_lrp, the gradient and attention rollout (when its weights are in the demo folder). Every heatmap\n" +
            "explains the class its model predicts. Prints the grid's path, each sample's predicted class and the accuracy on the samples.\n" +
            $"Then explains {TextPrompts} key-value recall prompts of the text demo model with AttnLRP (pages text_1.html ...),\n" +
            "saying whether the largest relevance lands on the token that holds the answer. --ground-truth N counts, over N\n" +
            "prompts, how often each method (attnlrp, cp_lrp, gradient, input x gradient, attention rollout, random) does.",
            "relevance demo",
            "relevance demo --output results",
            "relevance demo --ground-truth 1000");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            // The demo model is small (28x28 inputs): splitting its operations over threads gains little, and on a
            // busy machine threads waiting for each other make it many times slower.
            using TorchThreads threadCount = TorchThreads.Use(1);
            string folder = ExplainModel.DemoFolder(parse.GetValue(demoFolder));
            DemoReport report = DemoGrid.Write(parse.GetValue(output)!, folder);
            writer.WriteLine($"Demo model and samples from {folder}");
            foreach (DemoPrediction p in report.Predictions)
            {
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{Path.GetFileName(p.Path),-24} label {DemoModel.ClassNames[p.Label],-12} predicted {DemoModel.ClassNames[p.Predicted],-12} ({p.Probability * 100:F1}%){(p.Correct ? "" : "  wrong")}"));
            }
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Accuracy on the {report.Predictions.Count} samples: {report.Correct}/{report.Predictions.Count} ({report.Accuracy * 100:F1}%)"));
            writer.WriteLine($"Wrote {report.GridPath} ({report.Width}x{report.Height})");
            int prompts = parse.GetValue(groundTruth);
            if (prompts < 0)
            {
                throw new ArgumentException($"--ground-truth must not be negative; got {prompts}.");
            }
            TextRows(parse.GetValue(output)!, writer, prompts);
        }));
        return command;
    }

    /// <summary>The prompts of the text demo that <c>relevance demo</c> explains after the image grid.</summary>
    public const int TextPrompts = 3;

    // The text demo: a few recall prompts explained with AttnLRP, each on one line of tokens with their relevance, and
    // whether the largest relevance lands on the token that holds the answer.
    private static void TextRows(string output, TextWriter writer, int groundTruth)
    {
        string folder = TextDemo.FindFolder();
        using DecoderModel model = DecoderCheckpoint.Load(folder);
        TextTokenizer tokenizer = TextTokenizer.Load(folder);
        var explainer = new TextExplainer(model, tokenizer);
        writer.WriteLine();
        writer.WriteLine($"Text demo model (a small decoder for key-value recall; the answer's token is known) from {folder}, explained with AttnLRP:");
        int i = 0;
        foreach (RecallPrompt prompt in new RecallTask(2024).Take(TextPrompts))
        {
            TextExplanation explanation = explainer.Explain(prompt.Text, DecoderComposites.Method("attnlrp"));
            int top = explanation.Relevance.Select((r, k) => (r, k)).MaxBy(p => p.r).k;
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{prompt.Text}  ->  \"{explanation.PredictedText}\" (p = {explanation.Probability:F3}); largest relevance on " +
                $"\"{explanation.Tokens[top].Text}\"{(top == prompt.AnswerPosition ? ", the token that holds the answer" : $", not on the answer's \"{explanation.Tokens[prompt.AnswerPosition].Text}\"")}"));
            writer.WriteLine("  " + TokenHeatmap.Plain(explanation).Split('\n')[0]);
            string page = Path.Combine(output, $"text_{++i}.html");
            AtomicFile.Write(page, System.Text.Encoding.UTF8.GetBytes(TokenHeatmap.Html(explanation, "Text demo: " + prompt.Text)));
        }
        writer.WriteLine($"Wrote {Path.Combine(output, "text_1.html")} ... text_{TextPrompts}.html");
        if (groundTruth > 0)
        {
            writer.WriteLine();
            writer.WriteLine($"Ground truth over {groundTruth:N0} recall prompts: how often the largest token score lands on the token that holds the answer");
            foreach (GroundTruthRow row in GroundTruth.Evaluate(model, tokenizer, new RecallTask(GroundTruthSeed).Take(groundTruth), GroundTruth.Methods(GroundTruthSeed)))
            {
                writer.WriteLine(row.ToString());
            }
        }
    }

    /// <summary>The seed of the ground-truth table's prompts (and of its random method).</summary>
    public const int GroundTruthSeed = 12345;
}
