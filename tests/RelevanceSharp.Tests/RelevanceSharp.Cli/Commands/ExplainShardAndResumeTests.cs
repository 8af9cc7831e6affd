using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Platform;

namespace RelevanceSharp.Tests.Cli;

/// <summary>Seven gray images in two folders, whose names sort differently from how they are made and given.</summary>
internal static class SevenImages
{
    /// <summary>The names in list order (by name); shard K of 3 holds positions K, K + 3, ...</summary>
    public static readonly string[] Names = ["alpha.png", "bravo.png", "charlie.png", "delta.png", "echo.png", "foxtrot.png", "golf.png"];

    /// <summary>Writes the images; returns the two folders, the second holding the first image of the list.</summary>
    public static string[] Create(CliWorkspace work)
    {
        string[] second = ["alpha.png", "delta.png", "golf.png"];
        int seed = 1;
        foreach (string name in Names.Reverse())
        {
            work.Image((second.Contains(name) ? "two/" : "one/") + name, 28, 28, seed: seed++, gray: true);
        }
        return [work.PathOf("one"), work.PathOf("two")];
    }

    /// <summary>The names shard <paramref name="index"/> of <paramref name="count"/> holds.</summary>
    public static string[] Of(int index, int count) => Names.Where((_, i) => i % count == index).ToArray();
}

/// <summary>
/// <c>relevance explain --shard K/N</c> and <c>--resume</c> end to end with the demo model: the shards of a list
/// explain each image once, each recorded in its manifest, and a resumed run explains only what a stopped run left.
/// </summary>
public sealed class ExplainShardAndResumeTests : IClassFixture<ScratchDemoFolder>, IDisposable
{
    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public ExplainShardAndResumeTests(ScratchDemoFolder demo) => this.demo = demo;

    public void Dispose() => work.Dispose();

    private CliResult Explain(params string[] args) =>
        CliWorkspace.Run(["explain", .. args, "--demo-folder", demo.Folder, "--output", work.Output, "--batch-size", "2"]);

    private string Manifest(int index, int count) => Path.Combine(work.Output, $"manifest-{index}-of-{count}.jsonl");

    [Fact]
    public void ThreeShardsExplainEveryImageOnceWhateverTheOrderOfTheInputs()
    {
        string[] folders = SevenImages.Create(work);
        var explained = new List<string>();
        for (int k = 0; k < 3; k++)
        {
            // Each task may name the folders in another order: the list is sorted by file name all the same.
            string[] inputs = k % 2 == 0 ? folders : [.. folders.Reverse()];
            CliResult result = Explain([.. inputs, "--shard", $"{k}/3"]);
            Assert.True(result.Code == 0, result.Error);

            ManifestContent manifest = ExplainManifest.Read(Manifest(k, 3));
            string[] names = manifest.Entries.Select(e => e.Name).ToArray();
            Assert.Equal(SevenImages.Of(k, 3), names);
            Assert.Equal(new ManifestHeader
            {
                Shard = k,
                Shards = 3,
                Images = 7,
                Assigned = names.Length,
                List = ExplainManifest.ListDigest(SevenImages.Names),
                Model = "the demo model (DenseNet for Fashion-MNIST)",
                Method = "LRP with epsilon_plus_flat; explaining the predicted class",
                Spec = "epsilon_plus_flat(epsilon=1e-6,stabilizer=1e-6)",
            }, manifest.Header);
            Assert.All(manifest.Entries, e =>
            {
                Assert.Null(e.Error);
                Assert.Equal([e.Name], e.Outputs);
                Assert.True(File.Exists(Path.Combine(work.Output, e.Name)));
                Assert.InRange(e.Probability ?? -1, 0, 1);
                Assert.InRange(e.Predicted ?? -1, 0, 9);
                Assert.Equal(e.Predicted, e.Target);
                Assert.True(e.Seconds >= 0);
            });
            Assert.StartsWith($"Explaining {names.Length} images (shard {k}/3: {names.Length} of 7 images) with the demo model", result.Lines[0], StringComparison.Ordinal);
            Assert.Equal($"Manifest: {Manifest(k, 3)}", result.Lines[^1]);
            explained.AddRange(names);
        }

        Assert.Equal(SevenImages.Names, explained.Order(StringComparer.Ordinal));
        Assert.Equal([.. SevenImages.Names, "manifest-0-of-3.jsonl", "manifest-1-of-3.jsonl", "manifest-2-of-3.jsonl"], CliWorkspace.Entries(work.Output));
    }

    [Fact]
    public void AShardWithoutImagesWritesAManifestWithItsHeaderOnly()
    {
        string[] folders = SevenImages.Create(work);
        CliResult result = Explain([.. folders, "--shard", "8/9"]);

        Assert.True(result.Code == 0, result.Error);
        ManifestContent manifest = ExplainManifest.Read(Manifest(8, 9));
        Assert.Equal(0, manifest.Header?.Assigned);
        Assert.Empty(manifest.Entries);
        Assert.StartsWith("Explaining 0 images (shard 8/9: 0 of 7 images)", result.Lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void ResumeAfterAnInterruptedRunExplainsOnlyWhatIsMissing()
    {
        string[] folders = SevenImages.Create(work);
        CliResult first = Explain(folders);
        Assert.True(first.Code == 0, first.Error);
        string manifest = Manifest(0, 1);
        List<string> lines = [.. File.ReadAllLines(manifest)];
        Assert.Equal(8, lines.Count);

        // What a stopped run could leave: golf's line cut short as it was written (its heatmap was written before it),
        // charlie's heatmap lost, bravo's line a failure (failed images have no files). Alpha's heatmap is marked, so
        // that explaining it again would show.
        string cut = lines[7][..(lines[7].Length / 2)];
        lines[2] = $"{{\"file\":\"{Path.Combine(folders[0], "bravo.png")}\",\"outputs\":[],\"seconds\":0.1,\"error\":\"NaN at 'fc'\"}}";
        File.WriteAllText(manifest, string.Join("\n", lines.Take(7)) + "\n" + cut);
        File.Delete(Path.Combine(work.Output, "bravo.png"));
        File.Delete(Path.Combine(work.Output, "charlie.png"));
        File.WriteAllBytes(Path.Combine(work.Output, "alpha.png"), [1, 2, 3]);

        CliResult resumed = Explain([.. folders, "--resume"]);

        Assert.True(resumed.Code == 0, resumed.Error);
        Assert.StartsWith("Explaining 3 images (4 already done) with ", resumed.Lines[0], StringComparison.Ordinal);
        Assert.Equal(["bravo.png", "charlie.png", "golf.png"], resumed.Lines[1..4].Select(l => l.Split(':')[0]));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(work.Output, "alpha.png")));
        ManifestContent content = ExplainManifest.Read(manifest);
        Assert.Equal(File.ReadAllBytes(manifest).Length, content.Length);
        Assert.Equal(["alpha.png", "bravo.png", "charlie.png", "delta.png", "echo.png", "foxtrot.png", "bravo.png", "charlie.png", "golf.png"],
            content.Entries.Select(e => e.Name));
        Assert.All(content.Latest().Values, e => Assert.Null(e.Error));
        Assert.All(SevenImages.Names, n => Assert.True(File.Exists(Path.Combine(work.Output, n)), n));

        // Nothing is left to do now.
        CliResult again = Explain([.. folders, "--resume"]);
        Assert.True(again.Code == 0, again.Error);
        Assert.StartsWith("Explaining 0 images (7 already done)", again.Lines[0], StringComparison.Ordinal);
        Assert.Equal(9, ExplainManifest.Read(manifest).Entries.Count);
    }

    [Fact]
    public void ResumeRefusesTheManifestOfAnotherImageList()
    {
        string[] folders = SevenImages.Create(work);
        Assert.Equal(0, Explain([.. folders, "--shard", "1/2"]).Code);
        byte[] before = File.ReadAllBytes(Manifest(1, 2));
        work.Image("one/hotel.png", 28, 28, seed: 9, gray: true);

        CliResult result = Explain([.. folders, "--shard", "1/2", "--resume"]);

        Assert.Equal(1, result.Code);
        string error = Assert.Single(result.ErrorLines);
        Assert.StartsWith($"error: Cannot resume with the manifest '{Manifest(1, 2)}': it was made from another image list (7 images, not 8)", error, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(Manifest(1, 2)));
        Assert.False(File.Exists(Path.Combine(work.Output, "hotel.png")));
    }

    [Fact]
    public void ResumeRefusesAManifestMadeWithOtherArguments()
    {
        string[] folders = SevenImages.Create(work);
        Assert.Equal(0, Explain([.. folders, "--shard", "0/2"]).Code);
        byte[] before = File.ReadAllBytes(Manifest(0, 2));

        // The same composite, the same description of the method, another epsilon: another computation.
        CliResult result = Explain([.. folders, "--shard", "0/2", "--resume", "--arg", "epsilon=0.25"]);

        Assert.Equal(1, result.Code);
        Assert.Equal(
            $"error: Cannot resume with the manifest '{Manifest(0, 2)}': it computed epsilon_plus_flat(epsilon=1e-6,stabilizer=1e-6), " +
            "not epsilon_plus_flat(epsilon=0.25,stabilizer=1e-6). Resume with the same inputs and options, or remove the manifest to start afresh.",
            Assert.Single(result.ErrorLines));
        Assert.Equal(before, File.ReadAllBytes(Manifest(0, 2)));

        // Spelled otherwise, the same arguments are the same computation.
        CliResult same = Explain([.. folders, "--shard", "0/2", "--resume", "--composite", "epsilon_plus_flat(epsilon=0.000001)"]);
        Assert.True(same.Code == 0, same.Error);
        Assert.StartsWith("Explaining 0 images (shard 0/2: 4 of 7 images; 4 already done)", same.Lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void AutoTakesTheShardFromTheSchedulersVariableInAProcessOfItsOwn()
    {
        string[] folders = SevenImages.Create(work);
        string[] args = ["explain", .. folders, "--demo-folder", demo.Folder, "--output", work.Output, "--shard", "auto/3"];
        var clean = new Dictionary<string, string?>
        {
            [Shard.SlurmIndexVariable] = null,
            [Shard.SlurmMaxVariable] = null,
            [Shard.KubernetesIndexVariable] = null,
        };

        ChildResult slurm = ChildProcess.Relevance(new Dictionary<string, string?>(clean) { [Shard.SlurmIndexVariable] = "1", [Shard.SlurmMaxVariable] = "2" }, args);
        ChildResult kubernetes = ChildProcess.Relevance(new Dictionary<string, string?>(clean) { [Shard.KubernetesIndexVariable] = "2" }, args);
        ChildResult neither = ChildProcess.Relevance(clean, args);

        Assert.True(slurm.ExitCode == 0, slurm.Error);
        Assert.Equal(SevenImages.Of(1, 3), ExplainManifest.Read(Manifest(1, 3)).Entries.Select(e => e.Name));
        Assert.True(kubernetes.ExitCode == 0, kubernetes.Error);
        Assert.Equal(SevenImages.Of(2, 3), ExplainManifest.Read(Manifest(2, 3)).Entries.Select(e => e.Name));
        Assert.Equal(1, neither.ExitCode);
        // The one error line, after the CPU guard's notice on a processor where the guard engages.
        string? notice = CpuGuard.Decide(CpuDescription.Detect(), new CpuGuardSettings()).Notice;
        Assert.Equal(
            [.. notice is null ? Array.Empty<string>() : [notice],
             "error: --shard auto/3 takes K from SLURM_ARRAY_TASK_ID (a Slurm array job) or JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), and neither is set."],
            neither.ErrorLines);
        Assert.False(File.Exists(Manifest(0, 3)));
    }
}
