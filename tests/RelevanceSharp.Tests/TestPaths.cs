namespace RelevanceSharp.Tests;

/// <summary>Where the tests find the repository and the reference data.</summary>
public static class TestPaths
{
    private const string SolutionFile = "RelevanceSharp.slnx";

    /// <summary>The repository root: the first folder above the test binaries that holds the solution file.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The repository's copy of the conformance data, <c>tests/conformance</c> from the repository root.</summary>
    public static string Conformance { get; } = Path.Combine(RepositoryRoot, "tests", "conformance");

    /// <summary>
    /// Where new conformance cases arrive, <c>../shared/conformance</c> from the repository root; it need not exist
    /// (a clone alone has only its own copy).
    /// </summary>
    public static string SharedConformance { get; } = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "conformance"));

    /// <summary>A folder (or file) below the conformance data.</summary>
    public static string ConformancePath(params string[] parts) => Path.Combine(new[] { Conformance }.Concat(parts).ToArray());

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, SolutionFile)))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No folder above {AppContext.BaseDirectory} holds {SolutionFile}.");
    }
}
