using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Vision.Models;

namespace RelevanceSharp.Tests.Cli;

/// <summary>The listing commands print every registered name; every command has help with examples.</summary>
public sealed class ListAndHelpTests
{
    [Fact]
    public void ModelsListsTheDemoAndEveryZooArchitecture()
    {
        CliResult result = CliWorkspace.Run("models");
        Assert.Equal(0, result.Code);
        string[] names = result.Lines.Select(l => l.Split(' ')[0]).ToArray();
        Assert.Equal(new[] { "demo", "demo-vit" }.Concat(ModelZoo.Names), names);
    }

    [Fact]
    public void CompositesListsEveryCompositeWithItsArguments()
    {
        CliResult result = CliWorkspace.Run("composites");
        Assert.Equal(0, result.Code);
        string[] lines = result.Lines;
        Assert.StartsWith("gradient ", lines[0], StringComparison.Ordinal);
        foreach (CompositeEntry entry in CompositeRegistry.All)
        {
            int at = Array.FindIndex(lines, l => l.StartsWith(entry.Name + "  ", StringComparison.Ordinal));
            Assert.True(at >= 0, $"{entry.Name} is not listed");
            for (int i = 0; i < entry.Arguments.Count; i++)
            {
                Assert.StartsWith($"{entry.Arguments[i].Name} ({entry.Arguments[i].Type}, default ", lines[at + 1 + i], StringComparison.Ordinal);
            }
        }
        Assert.Contains("low (number or list per channel, default from --mean/--std)", result.Output, StringComparison.Ordinal);
        Assert.Contains("epsilon (number, default 1e-6)", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void CanonizersListsEveryCanonizer()
    {
        CliResult result = CliWorkspace.Run("canonizers");
        Assert.Equal(0, result.Code);
        Assert.Equal(CanonizerRegistry.Names, result.Lines.Select(l => l.Split(' ')[0]));
    }

    [Theory]
    [InlineData("explain")]
    [InlineData("demo")]
    [InlineData("models")]
    [InlineData("composites")]
    [InlineData("canonizers")]
    [InlineData("verify")]
    [InlineData("train-demo")]
    [InlineData("merge-manifests")]
    public void EveryCommandHasHelpWithExamples(string command)
    {
        CliResult result = CliWorkspace.Run(command, "--help");
        Assert.Equal(0, result.Code);
        Assert.Contains("Example", result.Output, StringComparison.Ordinal);
        Assert.Contains($"relevance {command}", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void TheRootHelpNamesEveryCommand()
    {
        CliResult result = CliWorkspace.Run("--help");
        Assert.Equal(0, result.Code);
        foreach (string command in new[] { "explain", "demo", "models", "composites", "canonizers", "verify", "train-demo", "merge-manifests" })
        {
            Assert.Contains(command, result.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void WithoutArgumentsTheToolShowsItsHelp()
    {
        CliResult result = CliWorkspace.Run();
        Assert.Equal(0, result.Code);
        Assert.Contains("explain", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownCommandIsNamedInOneLine()
    {
        CliResult result = CliWorkspace.Run("explian", "x.png");
        Assert.NotEqual(0, result.Code);
        Assert.Equal("error: Unrecognized command or argument 'explian'. (see 'relevance --help')", Assert.Single(result.ErrorLines));
    }
}
