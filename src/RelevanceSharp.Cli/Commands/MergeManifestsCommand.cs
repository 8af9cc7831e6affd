using System.CommandLine;
using System.Globalization;
using RelevanceSharp.Cli.Explaining;

namespace RelevanceSharp.Cli.Commands;

/// <summary><c>relevance merge-manifests DIR|FILES...</c>: checks that the shards of an explain run cover its images exactly once.</summary>
public static class MergeManifestsCommand
{
    // Beyond this many problem lines the report says how many more there are.
    private const int MaxReported = 1000;

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var manifests = new Argument<string[]>("manifests")
        {
            Description = "Output folders of 'relevance explain' (their manifest-K-of-N.jsonl files) or manifest files.",
            Arity = ArgumentArity.OneOrMore,
        };
        var inputs = new Option<string[]>("--inputs")
        {
            Description = "An image file or folder as given to 'relevance explain' (repeatable): also check the manifests against that list and name each missing image.",
            DefaultValueFactory = _ => [],
        };
        var output = new Option<string?>("--output", "-o")
        {
            Description = "When the shards cover the list, write one manifest of all images here (outputs relative to its folder).",
        };
        var command = new Command("merge-manifests", "Check that the shards of 'relevance explain --shard' cover every image exactly once, and merge their manifests.")
        {
            manifests, inputs, output,
        };
        command.WithExamples(
            "Every manifest must split the list into the same N shards, come from the same image list, model and attribution\n" +
            "spec (method, composite, canonizers and their arguments), and every shard from 0 to N-1 must have one. Each\n" +
            "image must be in one shard only, with a line without error and its files present. Each problem is one\n" +
            "'error: ...' line and the exit code is 1; when all is well, a summary and 0.",
            "relevance merge-manifests /shared/heatmaps",
            "relevance merge-manifests /shared/heatmaps --inputs /shared/photos --output /shared/heatmaps/all.jsonl");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            string[] listed = parse.GetValue(inputs) ?? [];
            ManifestCoverage coverage = ManifestMerge.Check(ManifestMerge.Find(Cli.Paths(parse, manifests)), listed.Length > 0 ? listed : null);
            return Report(coverage, parse.GetValue(output), writer, parse.InvocationConfiguration.Error);
        }));
        return command;
    }

    private static int Report(ManifestCoverage coverage, string? output, TextWriter writer, TextWriter error)
    {
        foreach (string problem in coverage.Problems.Take(MaxReported))
        {
            error.WriteLine($"error: {problem}");
        }
        if (coverage.Problems.Count > MaxReported)
        {
            error.WriteLine($"error: ... and {coverage.Problems.Count - MaxReported} more problems");
        }
        if (!coverage.Complete)
        {
            writer.WriteLine($"Not covered: {coverage.Problems.Count} problem{(coverage.Problems.Count == 1 ? "" : "s")} in {coverage.Manifests} " +
                $"manifest{(coverage.Manifests == 1 ? "" : "s")}.");
            return 1;
        }
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Covered: {coverage.Images} images in {coverage.Shards} shard{(coverage.Shards == 1 ? "" : "s")}, each explained exactly once " +
            $"({coverage.Files} files, {coverage.Seconds:F1} s of explaining)."));
        if (output is not null)
        {
            ManifestMerge.Write(output, coverage);
            writer.WriteLine($"Wrote {output}.");
        }
        return 0;
    }
}
