namespace RelevanceSharp.Tests;

/// <summary>Locations the tests read from, found relative to the build output.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRepositoryRoot);

    /// <summary>The directory that holds <c>RelevanceSharp.slnx</c>.</summary>
    public static string RepositoryRoot => Root.Value;

    /// <summary>The shared reference cases, <c>../shared/conformance</c> relative to the repository root.</summary>
    public static string Conformance => Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "conformance"));

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RelevanceSharp.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException(
            $"No directory containing RelevanceSharp.slnx above {AppContext.BaseDirectory}; the tests must run from a build inside the repository.");
    }
}
