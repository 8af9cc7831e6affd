using System.Diagnostics;

namespace RelevanceSharp.Tests;

/// <summary>What a child process printed and how it ended.</summary>
internal sealed record ChildResult(int ExitCode, string Output, string Error)
{
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>
/// Runs the <c>relevance</c> command in a process of its own: for settings that take effect once per process (the
/// CPU guard), and for kernels whose native fault must not take the test host down. Also builds and runs samples.
/// </summary>
internal static class ChildProcess
{
    /// <summary>The command's assembly, built next to the tests.</summary>
    public static string RelevanceDll => Path.Combine(AppContext.BaseDirectory, "relevance.dll");

    /// <summary>Runs <c>relevance ARGS</c> with the given environment changes (a null value removes a variable).</summary>
    public static ChildResult Relevance(IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        Dotnet(environment, TimeSpan.FromMinutes(3), ["exec", RelevanceDll, .. args]);

    /// <summary>Runs <c>dotnet ARGS</c> in the tests' folder with the given environment changes, within a time limit.</summary>
    public static ChildResult Dotnet(IReadOnlyDictionary<string, string?> environment, TimeSpan limit, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // The child decides for itself: no setting of the test host's leaks into it.
        foreach (string name in new[] { "RELEVANCESHARP_CPU_GUARD", "RELEVANCESHARP_CPU_GUARD_MEASURE", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA" })
        {
            start.Environment.Remove(name);
        }
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(" ", args)} did not finish within {limit.TotalMinutes} minutes");
        }
        process.WaitForExit();
        return new ChildResult(process.ExitCode, output.Result, error.Result);
    }
}
