using System.Text.Json;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Conformance;

namespace RelevanceSharp.Tests.Conformance;

/// <summary>One reference case of a conformance model folder, and whether the project can run it yet.</summary>
internal sealed record ConformanceCase(string Folder, string Model, string Name, string Architecture, IReadOnlyList<string> Canonizers)
{
    /// <summary>The architecture can be built and every canonizer the case lists is implemented.</summary>
    public bool Runnable => Architectures.IsKnown(Architecture) && Canonizers.All(CanonizerRegistry.IsKnown);

    /// <summary>Why the case cannot run yet, or <c>null</c>.</summary>
    public string? MissingPart => !Architectures.IsKnown(Architecture)
        ? $"architecture '{Architecture}'"
        : Canonizers.FirstOrDefault(c => !CanonizerRegistry.IsKnown(c)) is { } canonizer ? $"canonizer '{canonizer}'" : null;
}

/// <summary>The cases of every folder under the shared conformance directory that has a <c>cases.json</c>.</summary>
internal static class ConformanceCatalog
{
    private static readonly Lazy<IReadOnlyList<ConformanceCase>> Cases = new(Read);

    public static IReadOnlyList<ConformanceCase> All => Cases.Value;

    /// <summary>The folder of a model, relative to the conformance directory, as a test argument.</summary>
    public static string Locate(string relativeFolder) => Path.Combine(TestPaths.Conformance, relativeFolder);

    private static IReadOnlyList<ConformanceCase> Read()
    {
        string root = TestPaths.Conformance;
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"The conformance folder {root} does not exist.");
        }
        var result = new List<ConformanceCase>();
        foreach (string casesFile in Directory.GetFiles(root, "cases.json", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal))
        {
            string folder = Path.GetDirectoryName(casesFile)!;
            string relative = Path.GetRelativePath(root, folder);
            using JsonDocument model = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "model.json")));
            string architecture = model.RootElement.GetProperty("arch").GetString() ?? "";
            using JsonDocument cases = JsonDocument.Parse(File.ReadAllText(casesFile));
            foreach (JsonElement spec in cases.RootElement.GetProperty("cases").EnumerateArray())
            {
                result.Add(new ConformanceCase(
                    relative,
                    Path.GetFileName(folder),
                    spec.GetProperty("name").GetString() ?? "",
                    architecture,
                    spec.GetProperty("canonizers").EnumerateArray().Select(c => c.GetString() ?? "").ToArray()));
            }
        }
        return result;
    }
}
