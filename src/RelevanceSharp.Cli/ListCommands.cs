using System.CommandLine;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Explaining;
using RelevanceSharp.Models;

namespace RelevanceSharp.Cli;

/// <summary><c>relevance models</c>, <c>composites</c> and <c>canonizers</c>: what can be named on the command line.</summary>
public static class ListCommands
{
    /// <summary>Creates <c>relevance models</c>.</summary>
    public static Command Models()
    {
        var command = new Command("models", "List the models 'explain --model' accepts.").WithExamples(
            "The built-in demo model and the model zoo's architectures, which have torchvision's names and state-dict keys:\n" +
            "give their weights to explain with --weights.",
            "relevance models");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            var rows = new List<(string, string)> { (ExplainModel.DemoName, "DenseNet for 28x28 grayscale Fashion-MNIST images, 10 classes, weights included") };
            rows.AddRange(ModelZoo.All.Select(e => (e.Name, e.Description)));
            WriteRows(writer, rows);
        }));
        return command;
    }

    /// <summary>Creates <c>relevance composites</c>.</summary>
    public static Command Composites()
    {
        var command = new Command("composites", "List the composites (rule sets) 'explain --composite' accepts, with their arguments.").WithExamples(
            "Arguments are given to explain as --arg name=value.",
            "relevance composites");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            writer.WriteLine("gradient  No composite: the plain gradient (also 'none').");
            foreach (CompositeEntry entry in CompositeRegistry.All)
            {
                writer.WriteLine($"{entry.Name}  {entry.Description}");
                foreach (ArgumentSpec argument in entry.Arguments)
                {
                    string fallback = argument.Default ?? (argument.Name is "low" or "high" ? "from --mean/--std" : "none");
                    writer.WriteLine($"    {argument.Name} ({argument.Type}, default {fallback}): {argument.Description}");
                }
            }
        }));
        return command;
    }

    /// <summary>Creates <c>relevance canonizers</c>.</summary>
    public static Command Canonizers()
    {
        var command = new Command("canonizers", "List the canonizers 'explain --canonizer' accepts.").WithExamples(
            "Canonizers rewrite a model into an equivalent one that LRP rules handle better (batch norms merged into\n" +
            "neighbouring layers, residual sums made explicit); they take no arguments.",
            "relevance canonizers");
        command.SetAction(parse => Cli.Run(parse, writer =>
            WriteRows(writer, CanonizerRegistry.All.Select(e => (e.Name, e.Description)).ToList())));
        return command;
    }

    private static void WriteRows(TextWriter writer, IReadOnlyList<(string Name, string Description)> rows)
    {
        int width = rows.Max(r => r.Name.Length);
        foreach (var (name, description) in rows)
        {
            writer.WriteLine($"{name.PadRight(width)}  {description}");
        }
    }
}
