using System.CommandLine;
using System.Globalization;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Vision.Models;

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
        var command = new Command("demo", "Explain the demo model's sample images under several composites and canonizers, in one labelled grid.")
        {
            output, demoFolder,
        };
        command.WithExamples(
            $"Writes <output>/{DemoGrid.FileName}: rows are the samples (Fashion-MNIST images), columns the composites\n" +
            $"{string.Join(", ", DemoGrid.Composites)},\n" +
            "each without a canonizer, with densenet_seq_thresh and with densenet_thresh_seq, then the demo vision transformer\n" +
            "under attnlrp, cp_lrp, the gradient and attention rollout (when its weights are in the demo folder). Every heatmap\n" +
            "explains the class its model predicts. Prints the grid's path, each sample's predicted class and the accuracy on the samples.",
            "relevance demo",
            "relevance demo --output results");
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
        }));
        return command;
    }
}
