using RelevanceSharp.Attribution;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.Imaging;

namespace RelevanceSharp.Tests.Cli;

/// <summary>The reusable parts behind <c>explain</c>: finding images, default composite arguments, atomic writes.</summary>
public sealed class ExplainLibraryTests : IDisposable
{
    private readonly CliWorkspace work = new();

    public void Dispose() => work.Dispose();

    [Fact]
    public void AFolderMeansItsImagesSortedByNameAndAFileMeansItself()
    {
        foreach (string name in new[] { "b.PNG", "a.jpg", "c.webp", "d.bmp", "e.jpeg", "notes.txt", ".hidden.png" })
        {
            work.File("in/" + name, [1]);
        }
        work.File("in/sub/deeper.png", [1]);
        string extra = work.File("other.gif", [1]);

        IReadOnlyList<string> found = ImageFiles.Find([work.PathOf("in"), extra, work.PathOf("in", "a.jpg")]);

        Assert.Equal(["a.jpg", "b.PNG", "c.webp", "d.bmp", "e.jpeg", "other.gif"], found.Select(Path.GetFileName));
    }

    [Fact]
    public void EpsilonGammaBoxGetsThePixelRangeOfTheNormalization()
    {
        var options = new ExplainOptions
        {
            Inputs = [],
            Transform = new ImageTransform(0, 0, [0.5f, 0.25f], [0.5f, 0.25f]),
            Spec = AttributionSpec.Parse("epsilon_gamma_box"),
        };
        AttributionContext context = ExplainPlanner.Context(options);
        Assert.Equal([-1.0, -1.0], context.Bounds!.Low);
        Assert.Equal([1.0, 3.0], context.Bounds.High);
        Assert.Equal("epsilon_gamma_box(low=[-1,-1],high=[1,3],epsilon=1e-6,gamma=0.25,stabilizer=1e-6)", options.Spec.Canonical(context));
        Assert.NotNull(options.Spec.CreateComposite(context));
        Assert.Null(AttributionSpec.Parse("gradient").CreateComposite(context));
        Assert.NotNull(AttributionSpec.Parse("gradient+resnet").CreateComposite(context));
    }

    [Fact]
    public void AGroupOfFilesIsWrittenWhollyOrNotAtAll()
    {
        string folder = work.PathOf("group");
        Directory.CreateDirectory(Path.Combine(folder, "blocked"));
        var files = new List<(string, byte[])>
        {
            (Path.Combine(folder, "first.png"), [1, 2, 3]),
            (Path.Combine(folder, "blocked"), [4, 5, 6]),
        };

        var error = Assert.Throws<IOException>(() => AtomicFile.WriteAll(files));

        Assert.Contains("blocked", error.Message, StringComparison.Ordinal);
        Assert.Equal(["blocked"], CliWorkspace.Entries(folder));
        AtomicFile.WriteAll([(Path.Combine(folder, "first.png"), [1, 2, 3])]);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(folder, "first.png")));
    }
}

/// <summary>An <see cref="ExplainJob"/> over many images leaves no tensor alive: each batch has its own dispose scope.</summary>
public sealed class ExplainJobMemoryTests : IClassFixture<ScratchDemoFolder>, IDisposable
{
    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public ExplainJobMemoryTests(ScratchDemoFolder demo) => this.demo = demo;

    public void Dispose() => work.Dispose();

    [Fact]
    public void LiveTensorsDoNotGrowWithTheNumberOfImages()
    {
        for (int i = 0; i < 30; i++)
        {
            work.Image($"many/{i:D2}.png", 28, 28, seed: i, gray: true);
        }
        var options = new ExplainOptions
        {
            Inputs = [work.PathOf("many")],
            Transform = RelevanceSharp.Vision.Models.DemoModel.Transform,
            OutputFolder = work.Output,
            BatchSize = 2,
            Overlay = true,
            RelevanceFormat = RelevanceFormat.SafeTensors,
            Spec = AttributionSpec.Parse("epsilon_plus_flat+densenet_thresh_seq"),
        };
        int threads = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(1);
        try
        {
            using ExplainJob job = ExplainJob.Prepare(options, () => ExplainModel.Load(ExplainModel.DemoName, demoFolder: demo.Folder));
            Assert.Equal(15, job.BatchCount);
            long before = TorchSharp.torch.Tensor.TotalCount;
            ExplainSummary summary = job.Run();
            long after = TorchSharp.torch.Tensor.TotalCount;

            Assert.Equal(30, summary.Images);
            Assert.Equal(90, summary.Files);
            Assert.True(after - before <= 4, $"{after - before} tensors were left alive by 15 batches");
        }
        finally
        {
            TorchSharp.torch.set_num_threads(threads);
        }
    }
}

/// <summary>A failure in the middle of a run keeps the images already done and leaves nothing of the failing one.</summary>
public sealed class ExplainJobFailureTests : IClassFixture<ScratchDemoFolder>, IDisposable
{
    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public ExplainJobFailureTests(ScratchDemoFolder demo) => this.demo = demo;

    public void Dispose() => work.Dispose();

    [Fact]
    public void AnImageDamagedAfterTheChecksStopsTheRunThere()
    {
        for (int i = 0; i < 4; i++)
        {
            work.Image($"in/{i}.png", 28, 28, seed: i, gray: true);
        }
        var options = new ExplainOptions
        {
            Inputs = [work.PathOf("in")],
            Transform = RelevanceSharp.Vision.Models.DemoModel.Transform,
            OutputFolder = work.Output,
            BatchSize = 1,
            RelevanceFormat = RelevanceFormat.Npy,
        };
        using ExplainJob job = ExplainJob.Prepare(options, () => ExplainModel.Load(ExplainModel.DemoName, demoFolder: demo.Folder));
        File.WriteAllBytes(work.PathOf("in", "2.png"), "damaged after the checks"u8.ToArray());
        var done = new List<string>();

        var error = Assert.Throws<InvalidDataException>(() => job.Run(image => done.Add(Path.GetFileName(image.Input))));

        Assert.Contains("2.png", error.Message, StringComparison.Ordinal);
        Assert.Equal(["0.png", "1.png"], done);
        Assert.Equal(["0.npy", "0.png", "1.npy", "1.png"], CliWorkspace.Entries(work.Output));
    }
}
