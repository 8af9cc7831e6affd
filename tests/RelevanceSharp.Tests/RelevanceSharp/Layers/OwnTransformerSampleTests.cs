using System.Globalization;
using System.Text.RegularExpressions;

namespace RelevanceSharp.Tests.Layers;

/// <summary>
/// The README's example "Your own transformer": its code blocks are part of samples/OwnTransformer/Program.cs, which is
/// built as a project of its own and run; what it prints shows AttnLRP with the conservation report, CP-LRP with a rule
/// on one query projection, and attention rollout on a transformer made of the library's blocks.
/// </summary>
[Trait("Category", "Slow")]
public sealed class OwnTransformerSampleTests
{
    [Fact]
    public void EveryCodeBlockOfTheExampleIsPartOfTheSample()
    {
        int blocks = SampleProgram.AssertBlocksArePartOf("OwnTransformer", "### Your own transformer");

        Assert.Equal(2, blocks);
    }

    [Fact]
    public void TheSampleBuildsAndExplainsItsTransformer()
    {
        string[] lines = SampleProgram.BuildAndRun("OwnTransformer");

        Match balance = Regex.Match(lines[0], @"^attnlrp: logit (-?\d+\.\d+), at the input (-?\d+\.\d+), absorbed by layers (-?\d+\.\d+)$");
        Assert.True(balance.Success, lines[0]);
        double[] numbers = Enumerable.Range(1, 3).Select(i => double.Parse(balance.Groups[i].Value, CultureInfo.InvariantCulture)).ToArray();
        // Every bit of the logit is at the input or absorbed by a layer (nothing is lost between the modules).
        Assert.Equal(numbers[0], numbers[1] + numbers[2], 3);
        Assert.All(lines[1..4], line => Assert.Matches(@"^(blocks|head|norm|patches|addPosition|prepend)[\w.]*: -?\d+\.\d+$", line));
        Assert.Matches(@"^cp_lrp: relevance at the input -?\d+\.\d+$", lines[4]);
        Assert.Matches(@"^rollout: grid 4 x 4, class token's share of the patches 0\.\d+$", lines[5]);
    }
}
