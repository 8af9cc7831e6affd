using System.Diagnostics;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.IO;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.IO;

/// <summary>
/// Hostile inputs to the readers: declared sizes far beyond the data, special files, shapes and offsets that
/// overflow. Each gives one line naming the file and the problem, quickly and without allocating what was declared.
/// </summary>
public sealed class UntrustedInputTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("relevancesharp-untrusted-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData(100000u, 100000u)]
    [InlineData(50000u, 50000u)]
    [InlineData(20000u, 20000u)]
    [InlineData(0x7FFFFFFFu, 1u)]
    [InlineData(65536u, 65536u)]
    public void AnImageHeaderDeclaringTooManyPixelsIsRefusedBeforeDecoding(uint width, uint height)
    {
        byte[] png = CraftedFiles.Png(width, height);
        string path = Write("huge.png", png);
        var clock = Stopwatch.StartNew();

        var error = Assert.ThrowsAny<Exception>(() => ImageIO.Load(path));

        Assert.IsType<InvalidDataException>(error);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [Fact]
    public void TheCraftedPngIsSixtyNineBytesAndDeclaresItsSize()
    {
        byte[] png = CraftedFiles.Png(100000, 100000);
        Assert.Equal(69, png.Length);
        var error = Assert.Throws<InvalidDataException>(() => ImageIO.Decode(png, source: "crafted.png"));
        Assert.Contains("100000x100000", error.Message, StringComparison.Ordinal);
        Assert.Contains("--max-pixels", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void APixelLimitCanBeRaisedAndLowered()
    {
        // A small image over a lowered limit is refused; the same image under the default passes the header check
        // (and then fails on its missing data, as a damaged file).
        byte[] png = CraftedFiles.Png(300, 200);
        var refused = Assert.Throws<InvalidDataException>(() => ImageIO.Decode(png, source: "small.png", maxPixels: 1000));
        Assert.Contains("300x200", refused.Message, StringComparison.Ordinal);
        var damaged = Assert.Throws<InvalidDataException>(() => ImageIO.Decode(png, source: "small.png"));
        Assert.DoesNotContain("limit", damaged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AResizeBeyondThePixelLimitIsRefusedBeforeAllocating()
    {
        using var scope = NewDisposeScope();
        Tensor image = rand(3, 10, 1000);
        var error = Assert.Throws<ArgumentException>(() => ImageTransforms.Resize(image, 100000, ImageTransform.DefaultMaxPixels));
        Assert.Contains("limit", error.Message, StringComparison.Ordinal);
        var transform = ImageTransform.ImageNet(100000, 224);
        Assert.Throws<ArgumentException>(transform.Validate);
    }

    [SkippableFact]
    public void DevicesAndLinksToThemAreRefusedWithoutReading()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "needs /dev/zero");
        string link = Path.Combine(folder, "zero.png");
        File.CreateSymbolicLink(link, "/dev/zero");
        var error = Assert.Throws<InvalidDataException>(() => ImageIO.Load(link));
        Assert.Contains("not a regular file", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => ImageIO.Load("/dev/zero"));
        Assert.Throws<InvalidDataException>(() => SafeTensors.Load(link));
        Assert.Throws<InvalidDataException>(() => Checkpoint.Read(link));
    }

    [SkippableFact]
    public void ANamedPipeIsRefusedWithoutBlocking()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "needs mkfifo");
        string fifo = Path.Combine(folder, "pipe.png");
        using (Process mkfifo = Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
            Skip.If(mkfifo.ExitCode != 0, "mkfifo failed");
        }
        Task<Exception> load = Task.Run(() => Record.Exception(() => ImageIO.Load(fifo)));
        Assert.True(load.Wait(TimeSpan.FromSeconds(10)), "reading a FIFO blocked");
        Assert.IsType<InvalidDataException>(load.Result);
        Assert.Contains("not a regular file", load.Result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFolderAndAMissingFileSayWhatTheyAre()
    {
        var folderError = Assert.Throws<InvalidDataException>(() => Checkpoint.Read(folder));
        Assert.Contains("is a folder", folderError.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<FileNotFoundException>(() => ImageIO.Load(Path.Combine(folder, "nope.png")));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "not a non-negative integer")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}""", 4, "too large to exist")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,9223372036854775807]}}""", 4, "ends at byte")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", 4, "begin <= end")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", 4, "needs 8 bytes")]
    [InlineData("""{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}""", 4, "unsupported dtype 'Q7'")]
    [InlineData("""{"w":{"shape":[1],"data_offsets":[0,4]}}""", 4, "no dtype")]
    [InlineData("""{"w":{"dtype":"F32","data_offsets":[0,4]}}""", 4, "no shape list")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":"0-4"}}""", 4, "no data_offsets list")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", 4, "not a non-negative integer")]
    [InlineData("""{"w":7}""", 0, "not an object")]
    [InlineData("""[1,2]""", 0, "not an object")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, "twice")]
    [InlineData("""{"w":""", 0, "not valid JSON")]
    public void ACraftedSafetensorsHeaderGivesOneLineNamingTheProblem(string header, int dataBytes, string expected)
    {
        byte[] bytes = CraftedFiles.SafeTensors(header, dataBytes);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes, "crafted.safetensors"));
        Assert.StartsWith("crafted.safetensors: not a valid safetensors file: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void AHeaderLengthBeyondTheFileIsRefused()
    {
        byte[] bytes = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes, "x"));
        Assert.Contains("header length", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new byte[3], "x"));
    }

    [Fact]
    public void AZipWithoutAPickleIsNotACheckpoint()
    {
        string path = Write("random.pth", CraftedFiles.Zip([("hello.txt", "hello"u8.ToArray())]));
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Read(path));
        Assert.Equal($"{path}: not a readable PyTorch checkpoint: it is a zip archive without a data.pkl, so not a PyTorch checkpoint.", error.Message);
    }

    [Fact]
    public void AnInflatingEntryThatIsNoPickleFailsInOneLine()
    {
        // 64 MB of zeros deflated to a few kB: inflated within the limit, then refused by the unpickler.
        string bomb = Write("bomb.pth", CraftedFiles.Zip([("archive/data.pkl", new byte[64 << 20])], compress: true));
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Read(bomb));
        Assert.StartsWith($"{bomb}: not a readable PyTorch checkpoint: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void APickleThatWouldRunCodeIsRefusedInPlainWords()
    {
        string path = Write("evil.pth", CraftedFiles.Zip([("archive/data.pkl", CraftedFiles.MaliciousPickle())]));
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Read(path));
        Assert.StartsWith($"{path}: not a readable PyTorch checkpoint: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("'os.system'", error.Message, StringComparison.Ordinal);
        Assert.Contains("nothing in the file is run", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("IObjectConstructor", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WeightsHoldingNaNAreRefusedByNameUnlessAllowed()
    {
        using var scope = NewDisposeScope();
        var layer = TorchSharp.torch.nn.Linear(3, 2);
        Tensor weight = layer.weight!.detach().clone();
        weight[0, 1] = tensor(float.NaN);
        Tensor bias = layer.bias!.detach().clone();
        bias[1] = tensor(float.PositiveInfinity);
        string path = Path.Combine(folder, "nan.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["weight"] = weight, ["bias"] = bias });
        Tensor before = layer.weight!.detach().clone();

        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(layer, path));

        Assert.Contains("2 tensors hold NaN or infinite values", error.Message, StringComparison.Ordinal);
        Assert.Contains("'weight' (1 NaN, 0 infinite)", error.Message, StringComparison.Ordinal);
        Assert.Contains("'bias' (0 NaN, 1 infinite)", error.Message, StringComparison.Ordinal);
        Assert.True((layer.weight! == before).all().item<bool>(), "a refused checkpoint changed the model");
        Checkpoint.Load(layer, path, allowNonFinite: true);
        Assert.True(isnan(layer.weight!).any().item<bool>());
    }
}
