using RelevanceSharp.Fuzz;
using RelevanceSharp.IO;

namespace RelevanceSharp.Tests.IO;

/// <summary>
/// Every input the fuzzers found to crash a reader, minimized with afl-tmin and kept in <c>FuzzFindings</c> as
/// <c>HARNESS-what.bin</c>: the harness now runs it without an error escaping, and the reader refuses it in one line.
/// </summary>
public class FuzzFindingsTests
{
    private static string Folder => Path.Combine(TestPaths.RepositoryRoot, "tests", "RelevanceSharp.Tests", "RelevanceSharp.Vision", "IO", "FuzzFindings");

    public static TheoryData<string> Findings()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(Folder, "*.bin").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Findings))]
    public void TheHarnessRunsTheFindingWithoutAnEscapingError(string file)
    {
        string harness = Harnesses.Names.Single(name => file.StartsWith(name + "-", StringComparison.Ordinal));
        Harnesses.Run(harness, File.ReadAllBytes(Path.Combine(Folder, file)));
    }

    [Fact]
    public void InvalidUtf8InASafetensorsHeaderIsOneLine()
    {
        // Found by the safetensors harness in its first seconds: a tensor name with a byte that is not UTF-8 made
        // System.Text.Json throw InvalidOperationException when the name was read.
        byte[] bytes = File.ReadAllBytes(Path.Combine(Folder, "safetensors-invalid-utf8-name.bin"));
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes, "found.safetensors"));
        Assert.Equal("found.safetensors: not a valid safetensors file: its header: not valid UTF-8 text.", error.Message);
    }
}
