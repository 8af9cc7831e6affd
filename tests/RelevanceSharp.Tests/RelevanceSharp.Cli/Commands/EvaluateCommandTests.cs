using System.Globalization;
using System.Text.Json;
using RelevanceSharp.Imaging;
using RelevanceSharp.IO;
using static RelevanceSharp.Tests.Support;
using TorchSharp;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;
using RelevanceSharp.Core;
using RelevanceSharp.Tests.Browser;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary><c>relevance evaluate</c> end to end, in process, on an untrained demo model with a few images.</summary>
public sealed class EvaluateCommandTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "rs-evaluate-" + Guid.NewGuid().ToString("N"));

    public EvaluateCommandTests()
    {
        // A demo folder laid out as DemoModel.Save writes it: the weights, and sample images with their labels.
        string demo = Path.Combine(root, "demo");
        string samples = Path.Combine(demo, DemoModel.SamplesFolder);
        Directory.CreateDirectory(samples);
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = DemoModel.Create();
        SafeTensors.Save(Path.Combine(demo, DemoModel.WeightsFile), model.state_dict());
        var labels = new Dictionary<string, int>();
        for (int i = 0; i < 3; i++)
        {
            string name = $"sample{i}.png";
            ImageIO.SavePng(Path.Combine(samples, name), T(Values(28 * 28, (ulong)(60 + i)), 1, 28, 28).abs().to(ScalarType.Float32));
            labels[name] = i;
        }
        File.WriteAllText(Path.Combine(samples, DemoModel.LabelsFile), JsonSerializer.Serialize(labels));
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    private (int Code, string Output, string Error) Invoke(params string[] args)
    {
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var output = new StringWriter();
        var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            // The command sets TorchSharp's thread count; keep the test process's own.
            string[] all = [.. args, "--threads", torch.get_num_threads().ToString(System.Globalization.CultureInfo.InvariantCulture)];
            int code = RelevanceSharp.Cli.Cli.BuildRoot().Parse(all).Invoke();
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
        }
    }

    [Fact]
    public void EvaluateWritesTheTableThePlotAndTheCsvFiles()
    {
        string output = Path.Combine(root, "out");
        var (code, text, error) = Invoke("evaluate", "--demo-folder", Path.Combine(root, "demo"),
            "--config", "epsilon_plus_flat", "--config", "epsilon_gamma_box+densenet_seq_thresh", "--config", "gradient",
            "--patch-size", "7", "--randomization-layers", "2", "--baseline", "blur", "--resamples", "300", "--infidelity-samples", "3",
            "--sensitivity-samples", "2", "--output", output);
        Assert.True(code == 0, $"exit code {code}: {error}");
        Assert.Contains("3 images of 28x28, 16 patches of 7x7, 16 steps, baseline blur(sigma=2)", text, StringComparison.Ordinal);
        Assert.Contains("epsilon_gamma_box+densenet_seq_thresh", text, StringComparison.Ordinal);
        Assert.Contains("perturbation, baseline blur(sigma=2) (1/1): ", error, StringComparison.Ordinal);
        // The random attribution joins as the sanity row; the gradient is compared with both composites.
        Assert.Contains("\nrandom ", text, StringComparison.Ordinal);
        Assert.Contains(text.Split('\n'), line => line.StartsWith("sanity: the random attribution ", StringComparison.Ordinal));
        // Two pairs by 3 measures under the baseline and 4 without.
        string[] paired = text.Split('\n').Where(line => line.StartsWith("paired: ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2 * (3 + 4), paired.Length);
        Assert.All(paired, line => Assert.EndsWith(", n = 3", line.TrimEnd(), StringComparison.Ordinal));
        Assert.Contains("under baseline blur(sigma=2):\npaired: gradient vs epsilon_plus_flat: mean difference in AOPC = ", text.Replace("\r", ""), StringComparison.Ordinal);
        Assert.Matches(@"done in \d+\.\d s: 3 images, \d+\.\d\d images/s", text);

        using (Tensor plot = ImageIO.Load(Path.Combine(output, "perturbation_blur_sigma_2.png")))
        {
            Assert.Equal(new long[] { 3, 600, 1500 }, plot.shape);
        }
        Assert.True(File.Exists(Path.Combine(output, "paired.png")));
        string[] rows = File.ReadAllLines(Path.Combine(output, "perturbation.csv"));
        Assert.Equal(1 + 4 * 17, rows.Length);
        Assert.Equal(4 * 17, rows.Skip(1).Select(r => r.Split(',')[0] + "/" + r.Split(',')[2]).Distinct().Count());
        Assert.Equal(1 + 4 * 2, File.ReadAllLines(Path.Combine(output, "randomization.csv")).Length);
        Assert.Equal(1 + 2 * (3 + 4), File.ReadAllLines(Path.Combine(output, "pairs.csv")).Length);
        Assert.Equal(1 + 4 * 3, File.ReadAllLines(Path.Combine(output, "per_image.csv")).Length);
    }

    [Fact]
    public void NoRandomizationSkipsTheCheck()
    {
        string output = Path.Combine(root, "plain");
        var (code, text, error) = Invoke("evaluate", "--demo-folder", Path.Combine(root, "demo"), "--config", "gradient",
            "--no-randomization", "--steps", "3", "--output", output);
        Assert.True(code == 0, $"exit code {code}: {error}");
        Assert.DoesNotContain("rand. rho", text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(output, "randomization.csv")));
        // gradient and the random attribution, under both default baselines, 4 points each.
        Assert.Equal(1 + 2 * 2 * 4, File.ReadAllLines(Path.Combine(output, "perturbation.csv")).Length);
        Assert.Contains("baselines zeros and blur(sigma=2)", text, StringComparison.Ordinal);
        // No pair: the gradient is not compared with the random attribution.
        Assert.DoesNotContain("paired: ", text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(output, "pairs.csv")));
    }

    [SkippableFact]
    public void TheNewMethodsAreRowsTheMetricsArePairedAndTheReportOpensInChromium()
    {
        string output = Path.Combine(root, "methods");
        var (code, text, error) = Invoke("evaluate", "--demo-folder", Path.Combine(root, "demo"), "--config", "gradient", "--config", "input_x_gradient",
            "--config", "gradcam(layer=features.denseblock3)", "--no-randomization", "--steps", "3", "--baseline", "zeros", "--resamples", "200",
            "--infidelity-samples", "2", "--sensitivity-samples", "2", "--output", output);
        Assert.True(code == 0, $"exit code {code}: {error}");
        Assert.Contains("measures without baseline:", text, StringComparison.Ordinal);
        // Two pairs (the gradient against each other method), each under 3 measures with the baseline and 4 without.
        string[] pairs = File.ReadAllLines(Path.Combine(output, "pairs.csv"));
        Assert.Equal(1 + 2 * (3 + 4), pairs.Length);
        Assert.Contains(text.Split('\n'), line => line.StartsWith("paired: gradient vs gradcam(layer=features.denseblock3): mean difference in infidelity = ",
            StringComparison.Ordinal));
        Assert.Contains(text.Split('\n'), line => line.StartsWith("verdict: gradient vs input_x_gradient, sparseness: ", StringComparison.Ordinal));
        string[] perImage = File.ReadAllLines(Path.Combine(output, "per_image.csv"));
        Assert.EndsWith(",infidelity,sensitivity_max,sparseness,complexity", perImage[0], StringComparison.Ordinal);
        Assert.All(perImage.Skip(1), row => Assert.All(row.Split(',')[^4..], cell => Assert.True(double.IsFinite(double.Parse(cell, CultureInfo.InvariantCulture)), row)));

        // Without the two sampled measures only sparseness and complexity are paired.
        var (skipCode, _, skipError) = Invoke("evaluate", "--demo-folder", Path.Combine(root, "demo"), "--config", "gradient", "--config", "input_x_gradient",
            "--no-randomization", "--steps", "3", "--baseline", "zeros", "--resamples", "200", "--infidelity-samples", "0", "--sensitivity-samples", "0",
            "--output", Path.Combine(root, "without"));
        Assert.True(skipCode == 0, skipError);
        Assert.Equal(1 + 3 + 2, File.ReadAllLines(Path.Combine(root, "without", "pairs.csv")).Length);
        var (badCode, _, badError) = Invoke("evaluate", "--demo-folder", Path.Combine(root, "demo"), "--sensitivity-samples", "-1");
        Assert.Equal(1, badCode);
        Assert.Contains("error: --sensitivity-samples must be 0 (skip the measure) or more; got -1.", badError, StringComparison.Ordinal);

        Skip.IfNot(HeadlessChromium.Available, HeadlessChromium.Unavailable);
        string report = Path.Combine(output, "report.html");
        Assert.Contains($"wrote {report}", text, StringComparison.Ordinal);
        using HeadlessChromium browser = HeadlessChromium.Start();
        browser.Navigate(report);
        // The curves under the one baseline and the paired plot.
        ReportChecks.Check(browser, browser.Capture(), expectedImages: 2);
        Assert.Equal(pairs.Length - 1, browser.Evaluate("document.querySelectorAll('#pairs tbody tr').length")!.GetValue<int>());
        Assert.Equal(4, browser.Evaluate("document.querySelectorAll('#perturbation-0 tbody tr').length")!.GetValue<int>());
        string page = browser.Evaluate("document.body.innerText")!.GetValue<string>();
        Assert.Contains("verdict: gradient vs input_x_gradient", page, StringComparison.Ordinal);
        Assert.Contains("sanity:", page, StringComparison.Ordinal);
        browser.Evaluate("const f = document.querySelector('input.filter'); f.value = 'infidelity'; f.dispatchEvent(new Event('input')); true");
        Assert.Equal($"2 of {pairs.Length - 1} shown", browser.Evaluate("document.getElementById('pairs-count').textContent")!.GetValue<string>());
    }

    /// <summary>A folder shaped like Debian's dataset-fashion-mnist with three random test images per class.</summary>
    private string FakeFashionMnist()
    {
        string folder = Path.Combine(root, "fashion");
        Directory.CreateDirectory(folder);
        var random = new Random(9);
        byte[] pixels = new byte[30 * 28 * 28];
        random.NextBytes(pixels);
        byte[] labels = Enumerable.Range(0, 30).Select(i => (byte)(i % 10)).ToArray();
        WriteIdx(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), pixels, 30, 28, 28);
        WriteIdx(Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"), labels, 30);
        return folder;
    }

    private static void WriteIdx(string path, byte[] data, params int[] shape)
    {
        using var file = File.Create(path);
        using var zip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest);
        zip.Write([0, 0, 0x08, (byte)shape.Length]);
        foreach (int size in shape)
        {
            zip.Write([(byte)(size >> 24), (byte)(size >> 16), (byte)(size >> 8), (byte)size]);
        }
        zip.Write(data);
    }

    [Fact]
    public void TheDatasetModeComparesPairsOnAStratifiedSample()
    {
        string output = Path.Combine(root, "dataset");
        var (code, text, error) = Invoke("evaluate", "--demo-folder", Path.Combine(root, "demo"), "--dataset", "fashion-mnist", "--data", FakeFashionMnist(),
            "--count", "20", "--config", "epsilon_plus_flat", "--config", "epsilon_plus_flat+densenet_seq_thresh", "--config", "epsilon_plus_flat+densenet_thresh_seq",
            "--config", "gradient", "--no-randomization", "--patch-size", "7", "--steps", "3", "--resamples", "300",
            "--infidelity-samples", "0", "--sensitivity-samples", "0", "--output", output);
        Assert.True(code == 0, $"exit code {code}: {error}");
        Assert.Contains("on 20 Fashion-MNIST test images (2 per class, seed 0)", error, StringComparison.Ordinal);
        Assert.Contains("20 images of 28x28, 16 patches of 7x7, 3 steps of 5 patches, baselines zeros and blur(sigma=2), score logit, 1 random order", text,
            StringComparison.Ordinal);
        // Pairs: none vs seq_thresh, seq_thresh vs thresh_seq, gradient vs each composite: 5, by 3 measures and 2 baselines,
        // and by sparseness and complexity (the sampled measures are skipped here).
        string[] all = text.Split('\n').Select(line => line.TrimEnd()).Where(line => line.StartsWith("paired: ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(5 * (3 * 2 + 2), all.Length);
        Assert.Equal(5 * 2, all.Count(line => line.Contains(": mean difference in sparseness = ", StringComparison.Ordinal)
            || line.Contains(": mean difference in complexity = ", StringComparison.Ordinal)));
        string[] paired = all.Where(line => line.Contains("AOPC = ", StringComparison.Ordinal) || line.Contains("ABPC = ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(5 * 3 * 2, paired.Length);
        var shape = new System.Text.RegularExpressions.Regex(@"^paired: (\S+) vs (\S+): mean difference in (AOPC|LeRF AOPC|ABPC) = -?\d+\.\d{3} " +
            @"\[-?\d+\.\d{3}, -?\d+\.\d{3}\] \(95% bootstrap CI\), Wilcoxon p = [0-9.e+-]+, B better on (\d+) of (\d+), n = 20$");
        Assert.All(paired, line => Assert.Matches(shape, line));
        Assert.Contains(paired, line => line.StartsWith("paired: epsilon_plus_flat+densenet_seq_thresh vs epsilon_plus_flat+densenet_thresh_seq: mean difference in AOPC = ",
            StringComparison.Ordinal));
        Assert.Contains("Holm p", text, StringComparison.Ordinal);
        Assert.Equal(5 * (3 + 2), text.Split('\n').Count(line => line.StartsWith("verdict: ", StringComparison.Ordinal)));
        Assert.Contains("images/s", text, StringComparison.Ordinal);

        string[] perImage = File.ReadAllLines(Path.Combine(output, "per_image.csv"));
        Assert.Equal(1 + 20 * 5 * 2, perImage.Length);
        var firstBlock = perImage.Skip(1).Take(20).Select(line => line.Split(',')).ToList();
        Assert.All(firstBlock, cells => Assert.StartsWith("t10k-000", cells[0], StringComparison.Ordinal));
        // Two images of each class, and the label of t10k-0000i is i % 10 as written.
        Assert.All(firstBlock.GroupBy(cells => cells[1]), group => Assert.Equal(2, group.Count()));
        Assert.All(firstBlock, cells => Assert.Equal(int.Parse(cells[0][5..], CultureInfo.InvariantCulture) % 10, int.Parse(cells[1], CultureInfo.InvariantCulture)));
        Assert.Equal(1 + 5 * (3 * 2 + 2), File.ReadAllLines(Path.Combine(output, "pairs.csv")).Length);
        Assert.True(File.Exists(Path.Combine(output, "paired.png")));
        Assert.True(File.Exists(Path.Combine(output, "perturbation_zeros.png")));

        var (badCode, _, badError) = Invoke("evaluate", "--demo-folder", Path.Combine(root, "demo"), "--dataset", "fashion-mnist",
            "--data", Path.Combine(root, "fashion"), "--count", "25", "--output", output);
        Assert.Equal(1, badCode);
        Assert.Contains("multiple of the 10 classes", badError, StringComparison.Ordinal);
        Assert.Single(badError.Trim().Split('\n'));
    }

    [Fact]
    public void AFolderDatasetTakesOneSubfolderPerClass()
    {
        string data = Path.Combine(root, "classes");
        for (int c = 0; c < 2; c++)
        {
            string folder = Path.Combine(data, c == 0 ? "boots" : "shirts");
            Directory.CreateDirectory(folder);
            for (int i = 0; i < 3; i++)
            {
                ImageIO.SavePng(Path.Combine(folder, $"{i}.png"), T(Values(28 * 28, (ulong)(80 + 10 * c + i)), 1, 28, 28).abs().clamp(Scalars.Of(0), Scalars.Of(1)).to(ScalarType.Float32));
            }
        }
        string output = Path.Combine(root, "folder-out");
        var (code, text, error) = Invoke("evaluate", "--demo-folder", Path.Combine(root, "demo"), "--dataset", "folder:" + data, "--count", "4",
            "--config", "gradient", "--no-randomization", "--patch-size", "14", "--baseline", "zeros", "--output", output);
        Assert.True(code == 0, $"exit code {code}: {error}");
        Assert.Contains("on 4 images of 2 classes from", error, StringComparison.Ordinal);
        string[] rows = File.ReadAllLines(Path.Combine(output, "per_image.csv")).Skip(1).Take(4).ToArray();
        Assert.Equal(2, rows.Count(r => r.StartsWith("boots/", StringComparison.Ordinal) && r.Split(',')[1] == "0"));
        Assert.Equal(2, rows.Count(r => r.StartsWith("shirts/", StringComparison.Ordinal) && r.Split(',')[1] == "1"));
    }

    [Theory]
    [InlineData("--model|nosuchnet", "Unknown model 'nosuchnet'")]
    [InlineData("--model|resnet18", "needs a weights file")]
    [InlineData("--config|epsilon_plus+nosuch", "unknown canonizer 'nosuch'")]
    [InlineData("--patch-size|-1", "patch size must be at least 1")]
    [InlineData("--count|20", "--count 20 needs --dataset")]
    [InlineData("--dataset|cifar", "--dataset takes 'fashion-mnist' or 'folder:PATH'")]
    [InlineData("--dataset|fashion-mnist|--data|/nonexistent/fashion", "Install the Debian package dataset-fashion-mnist")]
    [InlineData("--dataset|folder:/nonexistent/classes", "folder:/nonexistent/classes: the folder does not exist")]
    [InlineData("--pair|gradient vs epsilon_plus_flat|--config|gradient", "--pair 'gradient vs epsilon_plus_flat': epsilon_plus_flat is not one of the configurations evaluated")]
    [InlineData("--pair|gradient and epsilon_plus_flat", "--pair 'gradient and epsilon_plus_flat': A pair is written 'A vs B'")]
    public void BadRequestsFailWithOneLine(string args, string message)
    {
        var (code, _, error) = Invoke(["evaluate", "--demo-folder", Path.Combine(root, "demo"), "--output", Path.Combine(root, "bad"), .. args.Split('|')]);
        Assert.Equal(1, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }
}
