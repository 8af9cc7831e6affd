using RelevanceSharp.IO;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Cli;

/// <summary>What one in-process run of the command line gave.</summary>
internal sealed record CliResult(int Code, string Output, string Error)
{
    /// <summary>The non-empty lines written to standard output.</summary>
    public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The non-empty lines written to standard error.</summary>
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>A temporary folder for one test, with ways to run the command line and to make its inputs.</summary>
internal sealed class CliWorkspace : IDisposable
{
    public CliWorkspace()
    {
        Root = Path.Combine(Path.GetTempPath(), "relevancesharp-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    /// <summary>The output folder the tests pass to the commands (not created beforehand).</summary>
    public string Output => Path.Combine(Root, "out");

    public string PathOf(params string[] parts) => Path.Combine(new[] { Root }.Concat(parts).ToArray());

    /// <summary>Runs <c>relevance ARGS</c> in-process, as the executable would, with its output captured.</summary>
    public static CliResult Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = RelevanceSharp.Cli.Cli.Invoke(args, output, error);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Writes a PNG of random colors (or grays) of the given size; returns its path.</summary>
    public string Image(string relativePath, int width, int height, int seed = 1, bool gray = false)
    {
        string path = PathOf(relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        Tensor pixels = rand(new long[] { gray ? 1 : 3, height, width }, generator: generator);
        ImageIO.SavePng(path, pixels);
        return path;
    }

    /// <summary>Writes a file with the given bytes; returns its path.</summary>
    public string File(string relativePath, byte[] bytes)
    {
        string path = PathOf(relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Every file and folder below <paramref name="folder"/> (hidden ones too), or none if it does not exist.</summary>
    public static string[] Entries(string folder) =>
        Directory.Exists(folder)
            ? Directory.GetFileSystemEntries(folder, "*", SearchOption.AllDirectories).Select(e => Path.GetRelativePath(folder, e)).Order(StringComparer.Ordinal).ToArray()
            : [];

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>A resnet18 with 10 classes and seeded weights, saved by the project (<see cref="SafeTensors.Save"/>) in a temporary folder.</summary>
public sealed class Resnet18Weights : IDisposable
{
    public Resnet18Weights()
    {
        Folder = Path.Combine(Path.GetTempPath(), "relevancesharp-cli-weights-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        Path18 = Path.Combine(Folder, "resnet18_10.safetensors");
        manual_seed(7);
        using ZooModel model = ModelZoo.Create("resnet18", 10);
        SafeTensors.Save(Path18, model.state_dict());
    }

    public string Folder { get; }

    /// <summary>The weights file.</summary>
    public string Path18 { get; }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

/// <summary>
/// A demo folder made from an untrained demo model and a few gray images, for tests that need a demo model but
/// not the shipped weights.
/// </summary>
public sealed class ScratchDemoFolder : IDisposable
{
    public ScratchDemoFolder()
    {
        Folder = Path.Combine(Path.GetTempPath(), "relevancesharp-cli-demo-" + Guid.NewGuid().ToString("N"));
        string samples = Path.Combine(Folder, DemoModel.SamplesFolder);
        Directory.CreateDirectory(samples);
        manual_seed(3);
        using DenseNet model = DemoModel.Create();
        SafeTensors.Save(Path.Combine(Folder, DemoModel.WeightsFile), model.state_dict());
        var labels = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < 4; i++)
        {
            string name = $"{i:D5}_sample.png";
            using var scope = NewDisposeScope();
            using var generator = new Generator((ulong)(i + 1));
            ImageIO.SavePng(Path.Combine(samples, name), rand(new long[] { 1, 28, 28 }, generator: generator));
            labels[name] = i;
        }
        System.IO.File.WriteAllText(Path.Combine(samples, DemoModel.LabelsFile), System.Text.Json.JsonSerializer.Serialize(labels));
    }

    public string Folder { get; }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
