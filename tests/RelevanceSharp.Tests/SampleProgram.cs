using System.Text.RegularExpressions;

namespace RelevanceSharp.Tests;

/// <summary>The README's walk-throughs as programs under <c>samples/</c>: their code blocks, their build and their output.</summary>
internal static partial class SampleProgram
{
    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    /// <summary>The folder of a sample, <c>samples/NAME</c>.</summary>
    public static string Folder(string name) => Path.Combine(TestPaths.RepositoryRoot, "samples", name);

    /// <summary>
    /// The C# blocks of the README from the heading <paramref name="heading"/> (a whole line) to the next heading of the
    /// same or a higher level, checked to be parts of the sample's <c>Program.cs</c>; returns how many there are.
    /// </summary>
    public static int AssertBlocksArePartOf(string sample, string heading)
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "README.md"));
        int start = readme.IndexOf(heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README.md has no heading '{heading}'");
        string level = heading[..(heading.IndexOf(' ', StringComparison.Ordinal) + 1)];
        var ends = Enumerable.Range(2, level.Length - 2).Select(n => readme.IndexOf("\n" + new string('#', n) + " ", start + heading.Length, StringComparison.Ordinal));
        int end = ends.Where(e => e >= 0).DefaultIfEmpty(readme.Length).Min();
        string section = readme[start..end];
        string program = File.ReadAllText(Path.Combine(Folder(sample), "Program.cs"));
        var blocks = CodeBlock().Matches(section).Select(m => m.Groups[1].Value).ToList();
        foreach (string block in blocks)
        {
            Assert.True(program.Contains(block, StringComparison.Ordinal), $"README block not found in samples/{sample}/Program.cs:\n{block}");
        }
        return blocks.Count;
    }

    /// <summary>Builds the sample as a project of its own and runs it; returns its output lines.</summary>
    public static string[] BuildAndRun(string sample)
    {
        string output = Path.Combine(Path.GetTempPath(), $"relevancesharp-sample-{Guid.NewGuid():N}");
        try
        {
            var none = new Dictionary<string, string?> { ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1" };
            ChildResult build = ChildProcess.Dotnet(none, TimeSpan.FromMinutes(5),
                "build", Path.Combine(Folder(sample), sample + ".csproj"), "-c", "Release", "-o", output, "-nologo", "-v", "quiet");
            Assert.True(build.ExitCode == 0, $"the sample did not build:\n{build.Output}\n{build.Error}");
            ChildResult run = ChildProcess.Dotnet(none, TimeSpan.FromMinutes(2), "exec", Path.Combine(output, sample + ".dll"));
            Assert.True(run.ExitCode == 0, $"the sample failed:\n{run.Output}\n{run.Error}");
            return run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
