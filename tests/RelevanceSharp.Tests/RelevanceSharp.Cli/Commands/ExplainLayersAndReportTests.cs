using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.IO;
using RelevanceSharp.Tests.Browser;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Cli;

/// <summary>
/// <c>relevance explain</c> with <c>--layer</c>, <c>--top-channels</c>, the methods beside LRP and <c>--report</c>, on an
/// untrained demo model and four gray images; the report is loaded in headless Chromium.
/// </summary>
public sealed class ExplainLayersAndReportTests : IClassFixture<ScratchDemoFolder>, IDisposable
{
    private const string Layer = "features.denseblock3";
    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public ExplainLayersAndReportTests(ScratchDemoFolder demo) => this.demo = demo;

    public void Dispose() => work.Dispose();

    private string Samples => Path.Combine(demo.Folder, "samples");

    private CliResult Explain(params string[] args) =>
        CliWorkspace.Run(["explain", Samples, "--demo-folder", demo.Folder, "--output", work.Output, .. args]);

    [Fact]
    public void ALayersRelevanceIsWrittenAsHeatmapAndTensorAndItsTopChannelsAreItsLargestSums()
    {
        CliResult result = Explain("--layer", Layer, "--top-channels", "3", "--relevance-format", "npy");
        Assert.True(result.Code == 0, result.Error);

        IReadOnlyDictionary<string, ManifestEntry> entries = ExplainManifest.Read(Path.Combine(work.Output, "manifest-0-of-1.jsonl")).Latest();
        Assert.Equal(4, entries.Count);
        foreach (ManifestEntry entry in entries.Values)
        {
            string stem = Path.GetFileNameWithoutExtension(entry.Name);
            Assert.Contains($"{stem}.{Layer}.png", entry.Outputs);
            using var scope = NewDisposeScope();
            Tensor atLayer = Npy.Load(Path.Combine(work.Output, $"{stem}.{Layer}.npy"));
            Assert.Equal(3, atLayer.dim());
            // The heatmap has the layer's resolution, not the input's.
            Tensor heatmap = ImageIO.Load(Path.Combine(work.Output, $"{stem}.{Layer}.png"));
            Assert.Equal(atLayer.shape[1..], heatmap.shape[1..]);
            Assert.NotEqual(28, atLayer.shape[1]);

            // The top channels are the three largest channel sums of the written tensor, largest first.
            double[] sums = atLayer.to(ScalarType.Float64).flatten(1).sum(1).data<double>().ToArray();
            var expected = sums.Select((sum, channel) => (Channel: (long)channel, Sum: sum)).OrderByDescending(c => c.Sum).Take(3).ToList();
            IReadOnlyList<ChannelRelevance> top = entry.TopChannels![Layer];
            Assert.Equal(expected.Select(c => c.Channel), top.Select(c => c.Channel));
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(expected[i].Sum, top[i].Relevance, 1e-6 * Math.Max(1, Math.Abs(expected[i].Sum)));
            }
            Assert.Contains(result.Lines, line => line == $"{Layer}: top channels {top[0].Channel} ({top[0].Relevance.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)}), " +
                string.Join(", ", top.Skip(1).Select(c => $"{c.Channel} ({c.Relevance.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)})")));
        }
    }

    [Theory]
    [InlineData("input-x-gradient")]
    [InlineData("smoothgrad-squared")]
    [InlineData("vargrad")]
    [InlineData("gradient-shap")]
    [InlineData("grad-cam")]
    [InlineData("guided-grad-cam")]
    public void EveryNewMethodRunsFromTheCommandLine(string method)
    {
        bool namesLayer = method.Contains("cam", StringComparison.Ordinal);
        CliResult result = Explain(["--method", method, "--iterations", "2", .. namesLayer ? new[] { "--layer", Layer } : []]);
        Assert.True(result.Code == 0, result.Error);
        Assert.Contains(result.Lines, line => line.StartsWith("Explained 4 images", StringComparison.Ordinal));
        using var scope = NewDisposeScope();
        Tensor heatmap = ImageIO.Load(Path.Combine(work.Output, "00000_sample.png"));
        Assert.Equal(new long[] { 3, 28, 28 }, heatmap.shape);
        if (namesLayer)
        {
            // The map at the layer's own resolution, which the heatmap shows upsampled, and a note that says so.
            Assert.True(File.Exists(Path.Combine(work.Output, $"00000_sample.{Layer}.png")));
            Assert.Contains(result.Lines, line => line.StartsWith("note: ", StringComparison.Ordinal) && line.Contains("upsampled", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void GradCamWithoutALayerOrWithAnUnknownOneIsOneLine()
    {
        CliResult missing = Explain("--method", "grad-cam");
        Assert.Equal(1, missing.Code);
        string line = Assert.Single(missing.ErrorLines, l => !l.StartsWith("note:", StringComparison.Ordinal));
        Assert.StartsWith("error: --method gradcam explains a layer of the model: give it with --layer NAME, e.g. ", line);
        Assert.Contains(Layer, line, StringComparison.Ordinal);

        CliResult unknown = Explain("--method", "gradcam", "--layer", "features.denseblock9");
        Assert.Equal(1, unknown.Code);
        line = Assert.Single(unknown.ErrorLines, l => !l.StartsWith("note:", StringComparison.Ordinal));
        Assert.StartsWith("error: --layer features.denseblock9: the model has no layer of that name; nearest: ", line, StringComparison.Ordinal);
        Assert.Contains(Layer, line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(work.Output) && Directory.EnumerateFiles(work.Output, "*.png", SearchOption.AllDirectories).Any());
    }

    [Theory]
    [InlineData("--top-channels lists channels of the layers given with --layer", "--top-channels", "2")]
    [InlineData("--top-channels must be at least 1; got 0.", "--layer", Layer, "--top-channels", "0")]
    [InlineData("--conservation and --layer each follow a backward pass of their own", "--layer", Layer, "--conservation")]
    [InlineData("--report makes one page of the whole image list", "--report", "--shard", "1/2")]
    [InlineData("--layer features.nowhere: ", "--layer", "features.nowhere")]
    [InlineData("--layer features.denseblock3: ", "--method", "integrated_gradients", "--layer", Layer)]
    public void LayerAndReportOptionsThatDoNotFitAreOneLine(string message, params string[] args)
    {
        CliResult result = Explain(args);
        Assert.Equal(1, result.Code);
        string line = Assert.Single(result.ErrorLines, l => !l.StartsWith("note:", StringComparison.Ordinal));
        Assert.StartsWith("error: " + message, line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(work.Output) && Directory.EnumerateFiles(work.Output, "*.png", SearchOption.AllDirectories).Any());
    }

    [SkippableFact]
    public void TheReportShowsEveryImageWithBothCompositesSideBySideInChromium()
    {
        Skip.IfNot(HeadlessChromium.Available, HeadlessChromium.Unavailable);
        CliResult result = Explain("--report", "--composite", "epsilon_plus_flat", "--composite", "epsilon_gamma_box");
        Assert.True(result.Code == 0, result.Error);
        string report = Path.Combine(work.Output, "report.html");
        Assert.Contains($"Report: {report}", result.Lines);
        string html = File.ReadAllText(report);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);

        using HeadlessChromium browser = HeadlessChromium.Start();
        browser.Navigate(report);
        PageLoad page = browser.Capture();
        // Each of the 4 rows: the image as the model saw it, then heatmap and overlay of each composite.
        ReportChecks.Check(browser, page, expectedImages: 4 * (1 + 2 * 2));
        Assert.Equal(4, browser.Evaluate("document.querySelectorAll('#images tbody tr').length")!.GetValue<int>());
        Assert.Equal(["epsilon_plus_flat", "epsilon_gamma_box"],
            browser.Evaluate("Array.from(document.querySelectorAll('#images thead th[colspan]')).map(h => h.textContent)")!.AsArray().Select(n => n!.GetValue<string>()));
        // The first row (in name order) shows its prediction and probability as the manifest of the first run has them.
        ManifestEntry first = ExplainManifest.Read(Path.Combine(work.Output, "epsilon_plus_flat", "manifest-0-of-1.jsonl")).Latest()["00000_sample.png"];
        Assert.Equal(first.Class, browser.Evaluate("document.querySelector('#images tbody tr').cells[2].textContent")!.GetValue<string>());
        Assert.Equal(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{first.Probability * 100:F1}%"),
            browser.Evaluate("document.querySelector('#images tbody tr').cells[3].textContent")!.GetValue<string>());

        // Sorting by name twice puts the last name first; the filter keeps the rows that match.
        string[] Names() => browser.Evaluate("Array.from(document.querySelectorAll('#images tbody tr')).filter(r => !r.hidden).map(r => r.cells[1].textContent)")!
            .AsArray().Select(n => n!.GetValue<string>()).ToArray();
        browser.Evaluate("const h = Array.from(document.querySelectorAll('#images th')).find(h => h.textContent === 'name'); h.click(); h.click(); true");
        Assert.Equal(["00003_sample.png", "00002_sample.png", "00001_sample.png", "00000_sample.png"], Names());
        browser.Evaluate("const f = document.querySelector('input.filter'); f.value = '00002'; f.dispatchEvent(new Event('input')); true");
        Assert.Equal(["00002_sample.png"], Names());
        Assert.Equal("1 of 4 shown", browser.Evaluate("document.getElementById('images-count').textContent")!.GetValue<string>());
        Assert.Empty(browser.Capture().ConsoleErrors);
    }
}
