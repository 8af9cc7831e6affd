using System.CommandLine;
using RelevanceSharp.Conformance;

namespace RelevanceSharp.Cli;

/// <summary>The command tree of the <c>relevance</c> tool.</summary>
public static class Commands
{
    /// <summary>Builds the root command with all subcommands.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("RelevanceSharp: explain what neural networks see, with Layer-wise Relevance Propagation and related attributions.");
        root.WithExamples("Run 'relevance COMMAND --help' for the options and examples of a command.",
            "relevance demo",
            "relevance explain photos/ --model resnet50 --weights resnet50.pth --canonizer resnet",
            "relevance composites");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ExplainCommand.Create());
        root.Subcommands.Add(MergeManifestsCommand.Create());
        root.Subcommands.Add(ListCommands.Models());
        root.Subcommands.Add(ListCommands.Composites());
        root.Subcommands.Add(ListCommands.Canonizers());
        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(TrainDemoCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Options.Add(Cli.Verbose);
        CommandHelp.Install(root);
        return root;
    }
}
