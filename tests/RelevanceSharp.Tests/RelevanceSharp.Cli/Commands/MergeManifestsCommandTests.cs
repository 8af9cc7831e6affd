using RelevanceSharp.Cli.Explaining;

namespace RelevanceSharp.Tests.Cli;

/// <summary>Seven images explained in three shards by the demo model, once for all tests of a class.</summary>
public sealed class ThreeShardRun : IDisposable
{
    private readonly ScratchDemoFolder demo = new();
    private readonly CliWorkspace work = new();

    public ThreeShardRun()
    {
        Inputs = SevenImages.Create(work);
        for (int k = 0; k < 3; k++)
        {
            CliResult result = CliWorkspace.Run(["explain", .. Inputs, "--demo-folder", demo.Folder, "--output", work.Output, "--shard", $"{k}/3"]);
            if (result.Code != 0)
            {
                throw new InvalidOperationException($"shard {k}/3 failed: {result.Error}");
            }
        }
        Output = work.Output;
    }

    /// <summary>The two image folders given to explain.</summary>
    public string[] Inputs { get; }

    /// <summary>The demo folder the shards were explained with.</summary>
    public string DemoFolder => demo.Folder;

    /// <summary>The output folder: heatmaps and three manifests.</summary>
    public string Output { get; }

    public void Dispose()
    {
        work.Dispose();
        demo.Dispose();
    }
}

/// <summary>
/// <c>relevance merge-manifests</c>: complete shards give a summary, exit 0 and a merged manifest; a missing shard, an
/// image in two shards, a missing image, a failure and a lost heatmap each give their own error line and exit 1.
/// </summary>
public sealed class MergeManifestsCommandTests : IClassFixture<ThreeShardRun>, IDisposable
{
    private readonly ThreeShardRun run;
    private readonly CliWorkspace work = new();

    public MergeManifestsCommandTests(ThreeShardRun run)
    {
        this.run = run;
        // Each test changes its own copy of the run's output.
        Directory.CreateDirectory(Output);
        foreach (string file in Directory.EnumerateFiles(run.Output))
        {
            File.Copy(file, Path.Combine(Output, Path.GetFileName(file)));
        }
    }

    public void Dispose() => work.Dispose();

    private string Output => work.Output;

    private string Manifest(int index) => Path.Combine(Output, $"manifest-{index}-of-3.jsonl");

    private static void AssertProblems(CliResult result, params string[] expected)
    {
        Assert.Equal(1, result.Code);
        Assert.Equal(expected.Select(e => "error: " + e), result.ErrorLines);
        Assert.StartsWith($"Not covered: {expected.Length} problem", Assert.Single(result.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public void CompleteShardsAreReportedAndMergedIntoOneManifest()
    {
        string merged = work.PathOf("all.jsonl");
        CliResult result = CliWorkspace.Run("merge-manifests", Output, "--inputs", run.Inputs[0], "--inputs", run.Inputs[1], "--output", merged);

        Assert.True(result.Code == 0, result.Error);
        Assert.Empty(result.Error);
        Assert.StartsWith("Covered: 7 images in 3 shards, each explained exactly once (7 files, ", result.Lines[0], StringComparison.Ordinal);
        Assert.Equal($"Wrote {merged}.", result.Lines[1]);
        ManifestContent content = ExplainManifest.Read(merged);
        Assert.Equal(0, content.Header?.Shard);
        Assert.Equal(1, content.Header?.Shards);
        Assert.Equal(7, content.Header?.Assigned);
        Assert.Equal(ExplainManifest.ListDigest(SevenImages.Names), content.Header?.List);
        Assert.Equal(SevenImages.Names, content.Entries.Select(e => e.Name));
        // Outputs are relative to the merged manifest's folder, so the merged manifest checks out on its own.
        Assert.All(content.Entries, e => Assert.Equal(["out/" + e.Name], e.Outputs));
        CliResult alone = CliWorkspace.Run("merge-manifests", merged);
        Assert.True(alone.Code == 0, alone.Error);
        Assert.StartsWith("Covered: 7 images in 1 shard, ", alone.Lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingShardIsFoundFromTheOtherManifestsAlone()
    {
        File.Delete(Manifest(2));

        AssertProblems(CliWorkspace.Run("merge-manifests", Output), "shard 2/3: no manifest (manifest-2-of-3.jsonl); run that shard");
        Assert.False(File.Exists(work.PathOf("all.jsonl")));
    }

    [Fact]
    public void ManifestsNamedOneByOneAreCheckedLikeAFolder()
    {
        AssertProblems(CliWorkspace.Run("merge-manifests", Manifest(0), Manifest(1)), "shard 2/3: no manifest (manifest-2-of-3.jsonl); run that shard");
        Assert.Equal(0, CliWorkspace.Run("merge-manifests", Manifest(0), Manifest(1), Manifest(2)).Code);
    }

    [Fact]
    public void AnImageInTwoShardsIsReported()
    {
        // Shard 0 holds alpha, delta, golf; shard 1 bravo, echo.
        string alpha = File.ReadAllLines(Manifest(0))[1];
        File.AppendAllLines(Manifest(1), [alpha]);

        AssertProblems(CliWorkspace.Run("merge-manifests", Output),
            "alpha.png: in shard 0/3 and in shard 1/3",
            $"{Manifest(1)}: lists 3 images, but shard 1/3 holds 2");
    }

    [Fact]
    public void AMissingImageIsCountedAndWithTheInputsNamed()
    {
        // A run of shard 1 stopped before echo's line was complete.
        string[] lines = File.ReadAllLines(Manifest(1));
        File.WriteAllText(Manifest(1), lines[0] + "\n" + lines[1] + "\n" + lines[2][..10]);

        AssertProblems(CliWorkspace.Run("merge-manifests", Output),
            $"shard 1/3: 1 of its 2 images have no line in {Manifest(1)}; run that shard again with --resume");
        AssertProblems(CliWorkspace.Run("merge-manifests", Output, "--inputs", run.Inputs[0], "--inputs", run.Inputs[1]),
            "echo.png: missing (shard 1/3)");
    }

    [Fact]
    public void AFailedImageAndALostHeatmapAreReported()
    {
        string[] lines = File.ReadAllLines(Manifest(2));
        lines[1] = "{\"file\":\"charlie.png\",\"outputs\":[],\"seconds\":0.1,\"error\":\"NaN at 'fc'\"}";
        File.WriteAllLines(Manifest(2), lines);
        File.Delete(Path.Combine(Output, "foxtrot.png"));

        AssertProblems(CliWorkspace.Run("merge-manifests", Output),
            "charlie.png: failed in shard 2/3: NaN at 'fc'",
            $"foxtrot.png: its output '{Path.Combine(Output, "foxtrot.png")}' is missing (shard 2/3)");
    }

    [Fact]
    public void ManifestsOfAnotherSplitOrListAreReported()
    {
        ManifestHeader header = ExplainManifest.Read(Manifest(0)).Header!;
        File.WriteAllBytes(Path.Combine(Output, "manifest-0-of-2.jsonl"), ExplainManifest.Line(header with { Shards = 2 }));

        CliResult split = CliWorkspace.Run("merge-manifests", Output);

        Assert.Equal(1, split.Code);
        Assert.Equal(
            $"error: the manifests split the list into different numbers of shards: 2 in {Path.Combine(Output, "manifest-0-of-2.jsonl")}; " +
            $"3 in {Manifest(0)}, {Manifest(1)}, {Manifest(2)}", Assert.Single(split.ErrorLines));

        File.Delete(Path.Combine(Output, "manifest-0-of-2.jsonl"));
        string[] lines = File.ReadAllLines(Manifest(1));
        lines[0] = System.Text.Encoding.UTF8.GetString(ExplainManifest.Line(ExplainManifest.Read(Manifest(1)).Header! with { Images = 8 })).TrimEnd('\n');
        File.WriteAllLines(Manifest(1), lines);

        CliResult list = CliWorkspace.Run("merge-manifests", Output);

        Assert.Equal(1, list.Code);
        Assert.Contains($"error: {Manifest(1)} does not belong with {Manifest(0)}: it was made from another image list (8 images, not 7)", list.ErrorLines);
    }

    [Fact]
    public void AShardMadeWithOtherArgumentsIsReportedWithBothSpecs()
    {
        // Shard 1 again, into the same folder, with another epsilon: its manifest describes the method as the others do.
        CliResult again = CliWorkspace.Run(["explain", .. run.Inputs, "--demo-folder", run.DemoFolder, "--output", Output, "--shard", "1/3",
            "--arg", "epsilon=0.5"]);
        Assert.True(again.Code == 0, again.Error);
        Assert.Equal(ExplainManifest.Read(Manifest(0)).Header!.Method, ExplainManifest.Read(Manifest(1)).Header!.Method);

        AssertProblems(CliWorkspace.Run("merge-manifests", Output),
            $"{Manifest(1)} does not belong with {Manifest(0)}: it computed epsilon_plus_flat(epsilon=0.5,stabilizer=1e-6), " +
            "not epsilon_plus_flat(epsilon=1e-6,stabilizer=1e-6)");
    }

    [Fact]
    public void AFolderWithoutManifestsIsOneError()
    {
        CliResult result = CliWorkspace.Run("merge-manifests", run.Inputs[0]);
        Assert.Equal(1, result.Code);
        Assert.Equal($"error: The folder '{run.Inputs[0]}' holds no manifest (manifest-K-of-N.jsonl).", Assert.Single(result.ErrorLines));
    }
}
