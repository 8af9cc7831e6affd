using System.CommandLine;
using RelevanceSharp.Conformance;

namespace RelevanceSharp.Cli.Commands;

/// <summary><c>relevance verify PATH...</c>: checks the project against reference results.</summary>
public static class VerifyCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths")
        {
            Description = "Conformance folders: model folders (with cases.json), the fullsize and pth folders, or folders of them.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("verify", "Run the reference cases of conformance folders and compare relevance and model outputs.")
        {
            paths,
        };
        command.WithExamples("", "relevance verify tests/conformance");
        command.SetAction(parse =>
            Cli.Run(parse, output => Run(parse.GetValue(paths) ?? Array.Empty<string>(), output, parse.InvocationConfiguration.Error)));
        return command;
    }

    /// <summary>
    /// Runs the checks, printing one line each and a summary; returns the exit code: 0 only when at least one check
    /// passed and none failed or was skipped.
    /// </summary>
    public static int Run(IEnumerable<string> paths, TextWriter output, TextWriter? error = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(output);
        error ??= output;
        int passed = 0, failed = 0, skipped = 0;
        foreach (string path in paths)
        {
            if (!Directory.Exists(path))
            {
                error.WriteLine($"error: {path} is not a folder");
                failed++;
                continue;
            }
            foreach (CheckResult result in ConformanceRunner.Run(path))
            {
                output.WriteLine(result.ToString());
                switch (result.Status)
                {
                    case CheckStatus.Passed: passed++; break;
                    case CheckStatus.Failed: failed++; break;
                    default: skipped++; break;
                }
            }
        }
        output.WriteLine($"{passed} passed, {failed} failed{(skipped > 0 ? $", {skipped} skipped" : "")}");
        if (failed > 0)
        {
            return 1;
        }
        if (passed == 0)
        {
            error.WriteLine("error: no check ran: the folders hold no conformance case");
            return 1;
        }
        if (skipped > 0)
        {
            error.WriteLine($"error: {skipped} check(s) were skipped, so the run does not show conformance");
            return 1;
        }
        return 0;
    }
}
