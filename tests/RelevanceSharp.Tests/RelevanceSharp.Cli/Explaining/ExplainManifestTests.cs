using System.Text;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Tests.Cli;

namespace RelevanceSharp.Tests.Explaining;

/// <summary>
/// Manifests as files: a line counts once its newline is written, a line cut short at the end is passed over and cut
/// off by a resumed writer, damage elsewhere is reported with the line, and one part has one writer at a time.
/// </summary>
public sealed class ExplainManifestTests : IDisposable
{
    private static readonly ManifestHeader Header = new()
    {
        Shard = 1,
        Shards = 3,
        Images = 7,
        Assigned = 2,
        List = ExplainManifest.ListDigest(["a.png", "b.png"]),
        Model = "a model",
        Method = "a method",
        Spec = "a_composite(a=1)",
    };

    private readonly CliWorkspace work = new();

    public void Dispose() => work.Dispose();

    private static ManifestEntry Entry(string file) => new() { File = "in/" + file, Predicted = 1, Probability = 0.5, Outputs = [file], Seconds = 0.25 };

    // A manifest of a new run with a line for each of the given images; returns its path.
    private string Written(ManifestHeader header, params string[] files)
    {
        string path = work.PathOf("manifest-1-of-3.jsonl");
        using ManifestWriter writer = ManifestWriter.Open(path, header, resume: false);
        foreach (string file in files)
        {
            writer.Add(Entry(file));
        }
        return path;
    }

    [Fact]
    public void ALineCutShortAtTheEndIsPassedOver()
    {
        string path = Written(Header, "a.png");
        byte[] complete = File.ReadAllBytes(path);
        File.AppendAllText(path, "{\"file\":\"in/b.png\",\"predic");

        ManifestContent content = ExplainManifest.Read(path);

        Assert.Equal(Header, content.Header);
        Assert.Equal("in/a.png", Assert.Single(content.Entries).File);
        Assert.Equal(complete.Length, content.Length);
    }

    [Fact]
    public void ADamagedLineBeforeTheLastIsReportedWithItsNumber()
    {
        string path = Written(Header, "a.png");
        File.AppendAllText(path, "{\"file\":\nnot json\n");

        var error = Assert.Throws<InvalidDataException>(() => ExplainManifest.Read(path));

        Assert.Contains("line 3", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AResumedWriterCutsOffALineCutShortAndAppendsWhileANewOneStartsAfresh()
    {
        string path = Written(Header, "a.png");
        File.AppendAllText(path, "{\"file\":\"in/b.pn");

        using (ManifestWriter writer = ManifestWriter.Open(path, Header, resume: true))
        {
            writer.Add(Entry("b.png"));
        }
        string[] lines = File.ReadAllText(path).Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Equal("", lines[^1]);
        Assert.Equal(["in/a.png", "in/b.png"], ExplainManifest.Read(path).Entries.Select(e => e.File));

        using (ManifestWriter writer = ManifestWriter.Open(path, Header, resume: false))
        {
        }
        ManifestContent fresh = ExplainManifest.Read(path);
        Assert.Equal(Header, fresh.Header);
        Assert.Empty(fresh.Entries);
    }

    [Fact]
    public void AResumedWriterKeepsNothingOfAManifestCutShortInItsHeader()
    {
        string path = work.PathOf("manifest-1-of-3.jsonl");
        File.WriteAllText(path, "{\"format\":\"relevance-manif");

        using (ManifestWriter writer = ManifestWriter.Open(path, Header, resume: true))
        {
            writer.Add(Entry("a.png"));
        }

        ManifestContent content = ExplainManifest.Read(path);
        Assert.Equal(Header, content.Header);
        Assert.Single(content.Entries);
    }

    [Fact]
    public void AResumedWriterRefusesTheManifestOfAnotherRun()
    {
        string path = Written(Header with { Method = "another method" }, "a.png");
        byte[] before = File.ReadAllBytes(path);

        var error = Assert.Throws<InvalidDataException>(() => ManifestWriter.Open(path, Header, resume: true));

        Assert.Contains("it computed another method, not a method", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void AResumedWriterRefusesAManifestOfAnotherSpecOrWithoutOne()
    {
        string path = Written(Header with { Spec = "a_composite(a=2)" }, "a.png");
        var other = Assert.Throws<InvalidDataException>(() => ManifestWriter.Open(path, Header, resume: true));
        Assert.Contains("it computed a_composite(a=2), not a_composite(a=1)", other.Message, StringComparison.Ordinal);

        File.Delete(path);
        path = Written(Header with { Spec = null }, "a.png");
        var older = Assert.Throws<InvalidDataException>(() => ManifestWriter.Open(path, Header, resume: true));
        Assert.Contains("it records no attribution spec (an older relevance wrote it), and this run a_composite(a=1)", older.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ASecondWriterOfThePartIsRefusedWhileTheFirstWrites()
    {
        string path = work.PathOf("manifest-1-of-3.jsonl");
        using ManifestWriter first = ManifestWriter.Open(path, Header, resume: false);
        first.Add(Entry("a.png"));

        var error = Assert.Throws<IOException>(() => ManifestWriter.Open(path, Header, resume: true));

        Assert.Contains("another run of this shard", error.Message, StringComparison.Ordinal);
        first.Add(Entry("b.png"));
        first.Dispose();
        Assert.Equal(2, ExplainManifest.Read(path).Entries.Count);
    }

    [Fact]
    public void TheListDigestDependsOnTheNamesAndTheirOrder()
    {
        string digest = ExplainManifest.ListDigest(["a.png", "b.png"]);
        Assert.StartsWith("sha256:", digest, StringComparison.Ordinal);
        Assert.Equal(digest, ExplainManifest.ListDigest(new List<string> { "a.png", "b.png" }));
        Assert.NotEqual(digest, ExplainManifest.ListDigest(["b.png", "a.png"]));
        Assert.NotEqual(digest, ExplainManifest.ListDigest(["a.pngb.png"]));
        Assert.NotEqual(digest, ExplainManifest.ListDigest(["a.png"]));
    }

    [Fact]
    public void EachLineIsOneJsonObjectWithTheDocumentedFields()
    {
        string path = work.PathOf("manifest-1-of-3.jsonl");
        using (ManifestWriter writer = ManifestWriter.Open(path, Header, resume: false))
        {
            writer.Add(Entry("a.png") with { Class = "Shirt", Target = 6 });
            writer.Add(new ManifestEntry { File = "in/b.png", Error = "NaN at 'fc'", Seconds = 0.5 });
        }

        string[] lines = File.ReadAllText(path, Encoding.UTF8).TrimEnd('\n').Split('\n');

        Assert.Equal(
            "{\"format\":\"relevance-manifest/1\",\"shard\":1,\"shards\":3,\"images\":7,\"assigned\":2," +
            $"\"list\":\"{Header.List}\",\"model\":\"a model\",\"method\":\"a method\",\"spec\":\"a_composite(a=1)\"}}", lines[0]);
        Assert.Equal("{\"file\":\"in/a.png\",\"predicted\":1,\"class\":\"Shirt\",\"probability\":0.5,\"target\":6,\"outputs\":[\"a.png\"],\"seconds\":0.25}", lines[1]);
        Assert.Equal("{\"file\":\"in/b.png\",\"outputs\":[],\"seconds\":0.5,\"error\":\"NaN at 'fc'\"}", lines[2]);
    }
}
