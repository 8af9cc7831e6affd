using System.Globalization;
using System.Text.RegularExpressions;

namespace RelevanceSharp.Tests.Composites;

/// <summary>
/// The README's walk-through "Writing your own rules and composites": every code block of the section is part of
/// samples/CustomRules/Program.cs, which is built as a project of its own and run; what it prints shows the custom
/// rule, the function-built and the registered composite, and the attribute canonizer at work.
/// </summary>
[Trait("Category", "Slow")]
public sealed partial class CustomRulesSampleTests
{
    private const string Section = "## Writing your own rules and composites";

    private static string SampleFolder => Path.Combine(TestPaths.RepositoryRoot, "samples", "CustomRules");

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [Fact]
    public void EveryCodeBlockOfTheSectionIsPartOfTheSample()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "README.md"));
        int start = readme.IndexOf(Section + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README.md has no section '{Section}'");
        int end = readme.IndexOf("\n## ", start + Section.Length, StringComparison.Ordinal);
        string section = end < 0 ? readme[start..] : readme[start..end];
        string program = File.ReadAllText(Path.Combine(SampleFolder, "Program.cs"));
        var blocks = CodeBlock().Matches(section).Select(m => m.Groups[1].Value).ToList();
        Assert.True(blocks.Count >= 4, $"the section has {blocks.Count} C# blocks; it walks through four steps");
        foreach (string block in blocks)
        {
            Assert.True(program.Contains(block, StringComparison.Ordinal), $"README block not found in samples/CustomRules/Program.cs:\n{block}");
        }
    }

    [Fact]
    public void TheSampleBuildsAndShowsEachStepWorking()
    {
        string output = Path.Combine(Path.GetTempPath(), $"relevancesharp-sample-{Guid.NewGuid():N}");
        try
        {
            var none = new Dictionary<string, string?> { ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1" };
            ChildResult build = ChildProcess.Dotnet(none, TimeSpan.FromMinutes(5),
                "build", Path.Combine(SampleFolder, "CustomRules.csproj"), "-c", "Release", "-o", output, "-nologo", "-v", "quiet");
            Assert.True(build.ExitCode == 0, $"the sample did not build:\n{build.Output}\n{build.Error}");
            ChildResult run = ChildProcess.Dotnet(none, TimeSpan.FromMinutes(2), "exec", Path.Combine(output, "CustomRules.dll"));
            Assert.True(run.ExitCode == 0, $"the sample failed:\n{run.Output}\n{run.Error}");
            string[] lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal("function and registered composite agree: True", lines[0]);
            var (score, routed) = Numbers(lines[1], "with route_sums");
            var (same, unrouted) = Numbers(lines[2], "without route_sums");
            Assert.Equal(score, same);
            // With the sums routed through Norm, relevance is conserved up to float32 rounding and the stabilizers;
            // without, both summands of each block get the whole relevance and the total is far off.
            double tolerance = 0.02 * Math.Abs(score) + 1e-4;
            Assert.True(Math.Abs(routed - score) <= tolerance, lines[1]);
            Assert.True(Math.Abs(unrouted - score) > 10 * tolerance, lines[2]);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private static (double Score, double Relevance) Numbers(string line, string prefix)
    {
        Match m = Regex.Match(line, $@"^{prefix}: score (-?\d+\.\d+), relevance (-?\d+\.\d+)$");
        Assert.True(m.Success, $"unexpected line: {line}");
        return (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }
}
