using System.CommandLine;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Composites;
using RelevanceSharp.Vision.Models;

namespace RelevanceSharp.Cli.Commands;

/// <summary><c>relevance models</c>, <c>composites</c> and <c>canonizers</c>: what can be named on the command line.</summary>
public static class ListCommands
{
    /// <summary>Creates <c>relevance models</c>.</summary>
    public static Command Models() => Listing("models", "List the models 'explain --model' accepts.",
        "The built-in demo models and the model zoo's architectures, which have torchvision's names and state-dict keys:\n" +
        "give their weights to explain with --weights.",
        () => ModelZoo.All.Select(e => (e.Name, e.Description))
            .Prepend((ExplainModel.DemoVitName, "vision transformer for 28x28 grayscale Fashion-MNIST images, 10 classes, weights included"))
            .Prepend((ExplainModel.DemoName, "DenseNet for 28x28 grayscale Fashion-MNIST images, 10 classes, weights included")));

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
                    string fallback = argument.Default ?? (argument.Context != ContextValue.None ? "from --mean/--std" : "none");
                    writer.WriteLine($"    {argument.Name} ({argument.Type}, default {fallback}): {argument.Description}");
                }
            }
        }));
        return command;
    }

    /// <summary>Creates <c>relevance canonizers</c>.</summary>
    public static Command Canonizers() => Listing("canonizers", "List the canonizers 'explain --canonizer' accepts.",
        "Canonizers rewrite a model into an equivalent one that LRP rules handle better (batch norms merged into\n" +
        "neighbouring layers, residual sums made explicit); they take no arguments.",
        () => CanonizerRegistry.All.Select(e => (e.Name, e.Description)));

    /// <summary>A command that prints names and descriptions in two columns.</summary>
    private static Command Listing(string name, string description, string notes, Func<IEnumerable<(string Name, string Description)>> rows)
    {
        var command = new Command(name, description).WithExamples(notes, $"relevance {name}");
        command.SetAction(parse => Cli.Run(parse, writer => WriteRows(writer, rows().ToList())));
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
