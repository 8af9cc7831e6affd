namespace RelevanceSharp.Tests.Cli;

/// <summary>
/// Bad input to <c>relevance explain</c> is refused before anything is written: the exit code is not zero, standard
/// error holds one line that names the problem, and the output folder holds no file at all, not even a temporary one.
/// </summary>
public sealed class ExplainBadInputTests : IClassFixture<Resnet18Weights>, IClassFixture<ScratchDemoFolder>, IDisposable
{
    private readonly Resnet18Weights weights;
    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public ExplainBadInputTests(Resnet18Weights weights, ScratchDemoFolder demo)
    {
        this.weights = weights;
        this.demo = demo;
    }

    public void Dispose() => work.Dispose();

    /// <summary>A folder with two good gray images, and room for a bad one.</summary>
    private string Folder()
    {
        work.Image("images/a_good.png", 28, 28, seed: 1, gray: true);
        work.Image("images/b_good.png", 28, 28, seed: 2, gray: true);
        return work.PathOf("images");
    }

    private CliResult ExplainDemo(params string[] args) =>
        CliWorkspace.Run(["explain", .. args, "--demo-folder", demo.Folder, "--output", work.Output]);

    private CliResult ExplainResnet(params string[] args) =>
        CliWorkspace.Run(["explain", .. args, "--model", "resnet18", "--num-classes", "10", "--size", "32", "--output", work.Output]);

    private void AssertRefused(CliResult result, params string[] named)
    {
        Assert.NotEqual(0, result.Code);
        string line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        foreach (string part in named)
        {
            Assert.Contains(part, line, StringComparison.Ordinal);
        }
        Assert.Empty(CliWorkspace.Entries(work.Output));
        Assert.DoesNotContain(CliWorkspace.Entries(work.Root), e => e.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void AMissingFile()
    {
        string folder = Folder();
        AssertRefused(ExplainDemo(folder, work.PathOf("missing.png")), "missing.png", "does not exist");
    }

    [Fact]
    public void AMissingFolder() =>
        AssertRefused(ExplainDemo(work.PathOf("no_such_folder")), "no_such_folder", "does not exist");

    [Fact]
    public void AFolderWithoutImages()
    {
        work.File("empty/readme.txt", "nothing here"u8.ToArray());
        AssertRefused(ExplainDemo(work.PathOf("empty")), "empty", "holds no image files");
    }

    [Fact]
    public void ACorruptImageAmongGoodOnes()
    {
        string folder = Folder();
        byte[] png = File.ReadAllBytes(Path.Combine(folder, "a_good.png"));
        // Keep the signature and header, scramble the compressed pixel data.
        for (int i = 60; i < png.Length - 20; i++)
        {
            png[i] ^= 0x5A;
        }
        work.File("images/c_corrupt.png", png);
        AssertRefused(ExplainDemo(folder), "c_corrupt.png");
    }

    [Fact]
    public void NotAnImageAtAll()
    {
        string folder = Folder();
        work.File("images/c_text.png", "this is text, not a picture"u8.ToArray());
        AssertRefused(ExplainDemo(folder), "c_text.png", "not a supported image");
    }

    [Fact]
    public void ATruncatedImage()
    {
        string folder = Folder();
        byte[] png = File.ReadAllBytes(work.Image("source/big.png", 64, 64, seed: 9));
        work.File("images/c_truncated.png", png[..(png.Length / 2)]);
        AssertRefused(ExplainDemo(folder), "c_truncated.png", "truncated");
    }

    [Fact]
    public void AnUnknownComposite() =>
        AssertRefused(ExplainDemo(Folder(), "--composite", "no_such_rules"), "Unknown composite 'no_such_rules'", "epsilon_plus_flat");

    [Fact]
    public void AnUnknownCompositeArgument() =>
        AssertRefused(ExplainDemo(Folder(), "--arg", "gama=0.5", "-c", "epsilon_gamma_box"), "Unknown argument(s) 'gama'", "gamma");

    [Fact]
    public void AnUnknownCanonizer() =>
        AssertRefused(ExplainDemo(Folder(), "--canonizer", "no_such_canonizer"), "Unknown canonizer 'no_such_canonizer'", "densenet_seq_thresh");

    [Fact]
    public void AnUnknownModel() =>
        AssertRefused(ExplainDemo(Folder(), "--model", "alexnet"), "Unknown model 'alexnet'", "resnet18");

    [Fact]
    public void WeightsForAnotherArchitecture()
    {
        string folder = Folder();
        CliResult result = CliWorkspace.Run("explain", folder, "--model", "resnet34", "--weights", weights.Path18, "--num-classes", "10",
            "--output", work.Output);
        AssertRefused(result, "do not fit", "resnet34", "missing key(s): layer1.2.");
    }

    [Fact]
    public void WeightsForAnotherNumberOfClasses()
    {
        CliResult result = CliWorkspace.Run("explain", Folder(), "--model", "resnet18", "--weights", weights.Path18, "--output", work.Output);
        AssertRefused(result, "do not fit", "fc.weight (file [10, 512], model [1000, 512])", "resnet18 with 1000 classes");
    }

    [Fact]
    public void AWeightsFileThatIsNoCheckpoint()
    {
        string bogus = work.File("bogus.safetensors", "definitely not tensors"u8.ToArray());
        AssertRefused(ExplainResnet(Folder(), "--weights", bogus), "bogus.safetensors");
    }

    [Fact]
    public void AMissingWeightsFile() =>
        AssertRefused(ExplainResnet(Folder(), "--weights", work.PathOf("nowhere.pth")), "nowhere.pth", "does not exist");

    [Fact]
    public void AZooModelWithoutWeights() =>
        AssertRefused(ExplainResnet(Folder()), "resnet18", "weights file");

    [Fact]
    public void WeightsForTheDemoModel() =>
        AssertRefused(ExplainDemo(Folder(), "--weights", weights.Path18), "--weights");

    [Fact]
    public void ATargetOutOfRange() =>
        AssertRefused(ExplainDemo(Folder(), "--target", "10"), "Target class 10 is out of range", "10 classes (0 to 9)");

    [Fact]
    public void ANegativeTarget() =>
        AssertRefused(ExplainDemo(Folder(), "--target", "-1"), "Target class -1 is out of range");

    [Fact]
    public void ATargetThatIsNoNumber() =>
        AssertRefused(ExplainDemo(Folder(), "--target", "shirt"), "--target", "'shirt'");

    [Fact]
    public void AnInputTheOutputWouldOverwrite()
    {
        string folder = Folder();
        CliResult result = CliWorkspace.Run("explain", folder, "--demo-folder", demo.Folder, "--output", folder);
        Assert.NotEqual(0, result.Code);
        Assert.Contains("would overwrite the input image", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.Equal(["a_good.png", "b_good.png"], CliWorkspace.Entries(folder));
    }

    [Fact]
    public void TwoInputsWithTheSameName()
    {
        work.Image("one/same.png", 28, 28, seed: 1, gray: true);
        work.Image("two/same.png", 28, 28, seed: 2, gray: true);
        AssertRefused(ExplainDemo(work.PathOf("one"), work.PathOf("two")), "would both write", "same.png");
    }

    [Fact]
    public void AnInputTheModelCannotTake() =>
        AssertRefused(ExplainResnet(Folder(), "--weights", weights.Path18, "--grayscale", "--mean", "0.5", "--std", "0.5"),
            "cannot process an input of shape [1, 1, 32, 32]", "Conv2d(3 -> 64)");

    [Fact]
    public void AnUnknownColorMap() =>
        AssertRefused(ExplainDemo(Folder(), "--colormap", "rainbow"), "rainbow");

    [Fact]
    public void AnUnknownOptionGivesOneLine()
    {
        CliResult result = CliWorkspace.Run("explain", Folder(), "--no-such-option", "--output", work.Output);
        AssertRefused(result, "Unknown option '--no-such-option'", "relevance explain --help");
    }

    [Fact]
    public void AnUnknownMethod() =>
        AssertRefused(ExplainDemo(Folder(), "--method", "lime"), "lime");

    [Fact]
    public void ABatchSizeOfZero() =>
        AssertRefused(ExplainDemo(Folder(), "--batch-size", "0"), "batch size");

    [Fact]
    public void ACraftedHeaderDeclaringTenBillionPixels()
    {
        // 69 bytes that used to end the process with SIGSEGV.
        string crafted = work.File("images/c_huge.png", RelevanceSharp.Tests.IO.CraftedFiles.Png(100000, 100000));
        AssertRefused(ExplainDemo(Folder()), "c_huge.png", "100000x100000", "limit");
        Assert.Contains(crafted, ExplainDemo(crafted).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void AnImageOverALoweredPixelLimit()
    {
        string folder = Folder();
        work.Image("images/c_big.png", 40, 40, seed: 3, gray: true);
        AssertRefused(ExplainDemo(folder, "--max-pixels", "1000"), "c_big.png", "40x40", "limit of 1,000");
        // The model's own input size must fit the limit too.
        File.Delete(work.PathOf("images", "c_big.png"));
        AssertRefused(ExplainDemo(folder, "--max-pixels", "100"), "28x28", "limit of 100");
    }

    [SkippableFact]
    public void ALinkToADeviceNamedLikeAnImage()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "needs /dev/zero");
        string folder = Folder();
        File.CreateSymbolicLink(Path.Combine(folder, "c_zero.png"), "/dev/zero");
        AssertRefused(ExplainDemo(folder), "c_zero.png", "not a regular file");
    }

    [Fact]
    public void AFolderGivenAsWeights() =>
        AssertRefused(ExplainResnet(Folder(), "--weights", work.Root), "is a folder");

    [Fact]
    public void WeightsHoldingNaN()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var tensors = RelevanceSharp.IO.SafeTensors.Load(weights.Path18);
        tensors["layer1.0.conv1.weight"][0, 0, 0, 0] = TorchSharp.torch.tensor(float.NaN);
        string path = work.PathOf("nan.safetensors");
        RelevanceSharp.IO.SafeTensors.Save(path, tensors);
        AssertRefused(ExplainResnet(Folder(), "--weights", path), "nan.safetensors", "'layer1.0.conv1.weight' (1 NaN, 0 infinite)",
            "--allow-non-finite-weights");
    }

    [Fact]
    public void ThreadsBeyondTheCores() =>
        AssertRefused(ExplainDemo(Folder(), "--threads", "100000"), "--threads 100000", "cores");

    [Fact]
    public void ASizeBeyondThePixelLimit() =>
        AssertRefused(ExplainDemo(Folder(), "--size", "100000"), "100000x100000", "limit");

    [Fact]
    public void AnUnknownMethodListsTheKnownOnes() =>
        AssertRefused(ExplainDemo(Folder(), "--method", "foo"), "'foo'", "smoothgrad", "occlusion");

    [Fact]
    public void MeansThatDoNotFitTheChannels() =>
        AssertRefused(ExplainDemo(Folder(), "--mean", "1,2,3"), "1 channel", "got 3 mean");
}
