using System.Globalization;
using System.Text.RegularExpressions;

namespace RelevanceSharp.Tests.Composites;

/// <summary>
/// The README's walk-through "Writing your own rules and composites": every code block of the section is part of
/// samples/CustomRules/Program.cs, which is built as a project of its own and run; what it prints shows the custom
/// rule, the function-built and the registered composite, and the attribute canonizer at work.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CustomRulesSampleTests
{
    [Fact]
    public void EveryCodeBlockOfTheSectionIsPartOfTheSample()
    {
        int blocks = SampleProgram.AssertBlocksArePartOf("CustomRules", "## Writing your own rules and composites");

        Assert.True(blocks >= 4, $"the section has {blocks} C# blocks; it walks through four steps");
    }

    [Fact]
    public void TheSampleBuildsAndShowsEachStepWorking()
    {
        string[] lines = SampleProgram.BuildAndRun("CustomRules");

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

    private static (double Score, double Relevance) Numbers(string line, string prefix)
    {
        Match m = Regex.Match(line, $@"^{prefix}: score (-?\d+\.\d+), relevance (-?\d+\.\d+)$");
        Assert.True(m.Success, $"unexpected line: {line}");
        return (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }
}
