using System.Text.Json;
using System.Text.RegularExpressions;
using RelevanceSharp.Imaging;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.Rendering;
using RelevanceSharp.Language.Tokenization;
using RelevanceSharp.Tests.Browser;
using SkiaSharp;

namespace RelevanceSharp.Tests.Language;

/// <summary>The token heatmap as ANSI text, plain text, JSON, and an HTML page that Chromium renders.</summary>
public sealed class TokenHeatmapTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("token-heatmap-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static TextExplanation Explanation() => new()
    {
        Tokens = new[]
        {
            new TextToken(1, "<s>", "<s>", true),
            new TextToken(40, "▁The", "The", false),
            new TextToken(41, "▁<b>", " <b>&", false),
            new TextToken(42, "<0x0A>", "\n", false),
            new TextToken(43, "▁Paris", " Paris", false),
        },
        Relevance = new[] { 0.0, 2.0, -1.0, 0.5, -4.0 },
        PerDimension = new[] { new[] { 0.0, 0.0 }, new[] { 1.5, 0.5 }, new[] { -1.0, 0.0 }, new[] { 0.25, 0.25 }, new[] { -3.0, -1.0 } },
        Method = "attnlrp",
        Position = 4,
        TargetId = 7,
        TargetText = " is",
        ScoreKind = ExplainedScore.Logit,
        Score = -3.0,
        Probability = 0.25,
        PredictedId = 7,
        PredictedText = " is",
    };

    [Fact]
    public void ColorsAreRedForPositiveBlueForNegativeAndWhiteForNothing()
    {
        Assert.Equal(new Rgb(255, 0, 0), TokenHeatmap.Color(4, 4));
        Assert.Equal(new Rgb(0, 0, 255), TokenHeatmap.Color(-4, 4));
        Assert.Equal(Rgb.White, TokenHeatmap.Color(0, 4));
        Rgb half = TokenHeatmap.Color(2, 4);
        Assert.True(half.R == 255 && half.G is > 100 and < 155, half.ToString());
        Assert.Equal(4.0, TokenHeatmap.Scale(Explanation()));
    }

    [Fact]
    public void AnsiColorsEachTokenAndPlainTextGivesTheNumbers()
    {
        string ansi = TokenHeatmap.Ansi(Explanation());
        Assert.Contains("\u001b[48;2;0;0;255m\u001b[97m Paris\u001b[0m", ansi, StringComparison.Ordinal);
        Assert.Contains("↵", ansi, StringComparison.Ordinal);
        string plain = TokenHeatmap.Plain(Explanation());
        Assert.DoesNotContain('\u001b', plain);
        Assert.StartsWith("[<s>|0.000][The|+2.000][ <b>&|-1.000][↵|+0.500][ Paris|-4.000]\n", plain, StringComparison.Ordinal);
        Assert.Contains("attnlrp: logit of \" is\" (7) after token 4 = -3", plain, StringComparison.Ordinal);
        Assert.Contains("relevance sums to -2.5", plain, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonHoldsTokenIdAndRelevance()
    {
        using JsonDocument json = JsonDocument.Parse(TokenHeatmap.Json(Explanation(), "demo"));
        JsonElement tokens = json.RootElement.GetProperty("tokens");
        Assert.Equal(5, tokens.GetArrayLength());
        Assert.Equal(" <b>&", tokens[2].GetProperty("token").GetString());
        Assert.Equal(41, tokens[2].GetProperty("id").GetInt32());
        Assert.Equal(-1.0, tokens[2].GetProperty("relevance").GetDouble());
        Assert.Equal(-3.0, tokens[4].GetProperty("dimensions")[0].GetDouble());
        Assert.Equal(7, json.RootElement.GetProperty("target").GetProperty("id").GetInt32());
        Assert.Equal("demo", json.RootElement.GetProperty("model").GetString());
    }

    [SkippableFact]
    public void ChromiumShowsEveryTokenOnItsColor()
    {
        Skip.IfNot(HeadlessChromium.Available, $"no {HeadlessChromium.Executable} (apt-get install chromium)");
        string page = Path.Combine(folder, "explanation.html");
        File.WriteAllText(page, TokenHeatmap.Html(Explanation(), "A test page"));
        string dom = HeadlessChromium.DumpDom(page);
        MatchCollection spans = Regex.Matches(dom, "<span class=\"token[^\"]*\" data-index=\"(\\d)\" data-id=\"(\\d+)\" data-relevance=\"([^\"]+)\" style=\"background-color: ([^;\"]+)[^\"]*\"[^>]*>([^<]*)</span>");
        Assert.Equal(5, spans.Count);
        Assert.Equal(" &lt;b&gt;&amp;", spans[2].Groups[5].Value);
        Assert.Equal("-4", spans[4].Groups[3].Value);
        Assert.Equal("rgb(0, 0, 255)", spans[4].Groups[4].Value.Replace("#0000ff", "rgb(0, 0, 255)", StringComparison.Ordinal));
        Assert.Contains("<table id=\"tokens\">", dom, StringComparison.Ordinal);

        // The screenshot shows the strongest tokens' colors: pure blue (the -4 of " Paris") and a strong red (+2 of "The").
        string png = HeadlessChromium.Screenshot(page, Path.Combine(folder, "explanation.png"));
        using SKBitmap bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        var colors = new HashSet<SKColor>(bitmap.Pixels);
        Assert.Contains(new SKColor(0, 0, 255), colors);
        Assert.Contains(colors, c => c.Red == 255 && c.Green is > 100 and < 150 && c.Blue is > 100 and < 150);
    }
}
