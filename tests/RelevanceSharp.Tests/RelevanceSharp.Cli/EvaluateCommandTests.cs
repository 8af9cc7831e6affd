using System.Text.Json;
using RelevanceSharp.Cli;
using RelevanceSharp.Imaging;
using RelevanceSharp.IO;
using RelevanceSharp.Models;
using static RelevanceSharp.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

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
            int code = Commands.BuildRoot().Parse(all).Invoke();
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
            "--patch-size", "7", "--randomization-layers", "2", "--baseline", "blur", "--output", output);
        Assert.True(code == 0, $"exit code {code}: {error}");
        Assert.Contains("3 images of 28x28, 16 patches of 7x7, 16 steps, baseline blur(sigma=2)", text, StringComparison.Ordinal);
        Assert.Contains("epsilon_gamma_box+densenet_seq_thresh", text, StringComparison.Ordinal);
        Assert.Contains("random order: ", error, StringComparison.Ordinal);

        using (Tensor plot = ImageIO.Load(Path.Combine(output, "perturbation.png")))
        {
            Assert.Equal(new long[] { 3, 600, 900 }, plot.shape);
        }
        string[] rows = File.ReadAllLines(Path.Combine(output, "perturbation.csv"));
        Assert.Equal(1 + 3 * 17, rows.Length);
        Assert.Equal(3 * 17, rows.Skip(1).Select(r => r.Split(',')[0] + "/" + r.Split(',')[1]).Distinct().Count());
        Assert.Equal(1 + 3 * 2, File.ReadAllLines(Path.Combine(output, "randomization.csv")).Length);
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
        Assert.Equal(1 + 4, File.ReadAllLines(Path.Combine(output, "perturbation.csv")).Length);
    }

    [Theory]
    [InlineData("--model|nosuchnet", "Unknown model 'nosuchnet'")]
    [InlineData("--model|resnet18", "needs a weights file")]
    [InlineData("--config|epsilon_plus+nosuch", "unknown canonizer 'nosuch'")]
    [InlineData("--patch-size|-1", "patch size must be at least 1")]
    public void BadRequestsFailWithOneLine(string args, string message)
    {
        var (code, _, error) = Invoke(["evaluate", "--demo-folder", Path.Combine(root, "demo"), "--output", Path.Combine(root, "bad"), .. args.Split('|')]);
        Assert.Equal(1, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }
}
