namespace RelevanceSharp.Tests;

/// <summary>
/// The repository's copy of the reference cases (<c>tests/conformance</c>) is identical to the place where new cases
/// arrive (<c>../shared/conformance</c>), apart from the files that are ours (<c>tests/conformance/sync.sh</c> keeps
/// the same list and updates the copy).
/// </summary>
public sealed class ConformanceCopyTests
{
    /// <summary>The entries of <c>tests/conformance</c> that are the repository's own, not part of the copy.</summary>
    private static readonly string[] Ours = ["sync.sh", "PROVENANCE.md", "tools"];

    [SkippableFact]
    public void TheCopyIsIdenticalToTheSharedFolder()
    {
        Skip.IfNot(Directory.Exists(TestPaths.SharedConformance),
            $"{TestPaths.SharedConformance} does not exist next to the repository, so there is nothing to compare the copy with");
        var differences = Differences(TestPaths.SharedConformance, TestPaths.Conformance);
        Assert.True(differences.Count == 0,
            $"tests/conformance differs from {TestPaths.SharedConformance} (update it with tests/conformance/sync.sh):\n"
            + string.Join("\n", differences));
    }

    [Fact]
    public void TheCopyHoldsTheCasesAndTheirReadme()
    {
        Assert.True(File.Exists(TestPaths.ConformancePath("README.md")));
        Assert.NotEmpty(Directory.GetFiles(TestPaths.Conformance, "cases.json", SearchOption.AllDirectories));
        Assert.NotEmpty(Directory.GetFiles(TestPaths.ConformancePath("fullsize"), "*.json"));
    }

    [Fact]
    public void EveryKindOfDifferenceIsNamed()
    {
        string root = Directory.CreateTempSubdirectory("conformance-copy-").FullName;
        try
        {
            string source = Path.Combine(root, "shared"), copy = Path.Combine(root, "copy");
            Write(source, "README.md", "a");
            Write(source, "m/cases.json", "{}");
            Write(source, "m/expected.safetensors", "12345");
            Write(source, "m/new.json", "n");
            Write(copy, "README.md", "a");
            Write(copy, "m/cases.json", "{}");
            Write(copy, "m/expected.safetensors", "12346");
            Write(copy, "m/stale.json", "s");
            Write(copy, "sync.sh", "ours");
            Write(copy, "tools/regenerate.py", "ours");

            Assert.Equal(
                ["contents differ: m/expected.safetensors", "only in the copy: m/stale.json", "only in the source: m/new.json"],
                Differences(source, copy));

            Write(copy, "m/expected.safetensors", "12345");
            File.Delete(Path.Combine(copy, "m", "stale.json"));
            Write(copy, "m/new.json", "n");
            Assert.Empty(Differences(source, copy));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>One line per file that is only in one of the folders or whose bytes differ, sorted.</summary>
    private static List<string> Differences(string source, string copy)
    {
        var inSource = Files(source, skipOurs: false);
        var inCopy = Files(copy, skipOurs: true);
        var lines = new List<string>();
        lines.AddRange(inSource.Except(inCopy).Select(file => $"only in the source: {file}"));
        lines.AddRange(inCopy.Except(inSource).Select(file => $"only in the copy: {file}"));
        lines.AddRange(inSource.Intersect(inCopy)
            .Where(file => !File.ReadAllBytes(Path.Combine(source, file)).AsSpan()
                .SequenceEqual(File.ReadAllBytes(Path.Combine(copy, file))))
            .Select(file => $"contents differ: {file}"));
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    /// <summary>The paths of the files below a folder, relative to it with '/' separators.</summary>
    private static SortedSet<string> Files(string root, bool skipOurs) =>
        new(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Select(file => Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/'))
                .Where(file => !skipOurs || !Ours.Any(own => file == own || file.StartsWith(own + "/", StringComparison.Ordinal))),
            StringComparer.Ordinal);

    private static void Write(string root, string relative, string text)
    {
        string path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
