using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json;
using System.Text.RegularExpressions;
using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.IO;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Vision.Models;

namespace RelevanceSharp.Tests.Cli;

/// <summary>The README's ten lines of library code run as written (with a smaller model and files of the test's own).</summary>
public sealed class ReadmeExampleTests : IClassFixture<Resnet18Weights>, IDisposable
{
    private readonly Resnet18Weights weights;
    private readonly CliWorkspace work = new();

    public ReadmeExampleTests(Resnet18Weights weights) => this.weights = weights;

    public void Dispose() => work.Dispose();

    [Fact]
    public void TheLibraryExampleWritesAHeatmapOfTheInputSize()
    {
        string image = work.Image("cat.png", 300, 260, seed: 11);
        string heatmap = work.PathOf("cat.heatmap.png");

        var model = ModelZoo.Create("resnet18", 10);
        Checkpoint.Load(model, weights.Path18);
        var input = ImageIO.LoadInput(image, ImageTransform.ImageNet());
        var composite = CompositeRegistry.Create("epsilon_plus_flat", canonizers: [CanonizerRegistry.Create("resnet")]);
        using var result = new Gradient(model, composite).Attribute(input, AttributionTarget.Predicted);
        ImageIO.SavePng(heatmap, Heatmap.Render(result.Relevance));

        Assert.Equal(new long[] { 1, 10 }, result.Output.shape);
        Assert.Equal(new long[] { 3, 224, 224 }, ImageIO.Load(heatmap).shape);
        model.Dispose();
    }
}

/// <summary>The README's attribution-spec example runs as written (with a smaller model).</summary>
public sealed class ReadmeSpecExampleTests
{
    [Fact]
    public void TheSpecExampleBuildsWithTheBoundsOfTheNormalization()
    {
        using var model = ModelZoo.Create("resnet18", 10);
        model.eval();

        var spec = AttributionSpec.Parse("epsilon_gamma_box+resnet");
        var context = AttributionContext.ForInputs(InputBounds.FromNormalization(ImageTransform.ImageNetMean, ImageTransform.ImageNetStd));
        Attributor attributor = spec.CreateAttributor(model, context);   // low and high of ZBox from the normalization
        string canonical = spec.Canonical(context);                      // epsilon_gamma_box(low=[-2.117...],...)+resnet

        Assert.StartsWith("epsilon_gamma_box(low=[-2.117", canonical, StringComparison.Ordinal);
        Assert.EndsWith(",epsilon=1e-6,gamma=0.25,stabilizer=1e-6)+resnet", canonical, StringComparison.Ordinal);
        Assert.IsType<EpsilonGammaBox>(attributor.Composite);
    }
}

/// <summary>The README's registration example runs as written.</summary>
public sealed class ReadmeRegistrationExampleTests
{
    [Fact]
    public void TheRegistrationExampleRegistersAndBuilds()
    {
        if (!CompositeRegistry.Names.Contains("my_flat_epsilon"))
        {
            var epsilon = new ArgumentSpec("epsilon", "number", "0.5", "Epsilon of every dense layer.");
            CompositeRegistry.Register(new CompositeEntry("my_flat_epsilon", "Epsilon on dense layers, Flat on convolutions.", [epsilon],
                (args, canonizers) => new LayerMapComposite([(LayerTypes.Dense, new RelevanceSharp.Rules.Epsilon(args.Number(epsilon))), (LayerTypes.Convolution, new RelevanceSharp.Rules.Flat())], canonizers)));
            CanonizerRegistry.Register(new CanonizerEntry("my_vgg", "VGG's canonizer under another name.",
                () => new CompositeCanonizer("my_vgg", new SequentialMergeBatchNorm())));
        }
        Composite composite = CompositeSpec.Parse("my_flat_epsilon(epsilon=0.2)+my_vgg").Create();
        Assert.Equal("my_vgg", Assert.Single(composite.Canonizers).Name);
    }
}

/// <summary>
/// The README's cluster examples: every <c>relevance</c> command line of its sbatch script and Kubernetes Job parses,
/// and the Slurm array and the Job's completions are numbered as the shards are.
/// </summary>
public sealed class ReadmeClusterExampleTests
{
    [Fact]
    public void TheClusterCommandLinesParseAndTheArraysFitTheShards()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "README.md"));
        int start = readme.IndexOf("## Many images: shards on a cluster", StringComparison.Ordinal);
        Assert.True(start >= 0, "the README has no section on shards");
        int end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        string section = readme[start..end].Replace("\\\n", " ", StringComparison.Ordinal);

        var commands = new List<string[]>();
        foreach (Match line in Regex.Matches(section, "(?<=^|\")relevance (?:explain|merge-manifests)[^\n\"]*", RegexOptions.Multiline))
        {
            commands.Add(line.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        }
        foreach (Match list in Regex.Matches(section, @"command: (\[[^\]]*\])"))
        {
            commands.Add(JsonSerializer.Deserialize<string[]>(list.Groups[1].Value)!);
        }

        Assert.Equal(4, commands.Count);
        foreach (string[] args in commands)
        {
            ParseResult parse = RelevanceSharp.Cli.Cli.BuildRoot().Parse(args[1..]);
            Assert.True(parse.Errors.Count == 0, $"{string.Join(" ", args)}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
            // A mistyped option would be taken for an input path, which the command refuses when it runs.
            Assert.DoesNotContain(parse.CommandResult.Children.OfType<ArgumentResult>().SelectMany(r => r.Tokens), t => t.Value.StartsWith('-'));
        }
        // Both schedulers run the explain line with auto/100 as 100 tasks numbered from 0.
        string[] shards = commands.Select(c => c.SkipWhile(a => a != "--shard").Skip(1).FirstOrDefault()).OfType<string>().Distinct().ToArray();
        Assert.Equal(["auto/100"], shards);
        Assert.Equal("0-99", Regex.Match(section, @"#SBATCH --array=(\S+)").Groups[1].Value);
        Assert.Equal("100", Regex.Match(section, @"completions: (\d+)").Groups[1].Value);
        Assert.Contains("completionMode: Indexed", section, StringComparison.Ordinal);
        Assert.Equal(new Shard(99, 100), Shard.Parse("auto/100", name => name switch
        {
            Shard.SlurmIndexVariable => "99",
            Shard.SlurmMaxVariable => "99",
            _ => null,
        }));
    }
}
