using RelevanceSharp.Conformance;
using Xunit.Abstractions;

namespace RelevanceSharp.Tests.Conformance;

/// <summary>
/// The shared reference cases, one test per case the project can run (its architecture is built by ModelSpec and
/// its canonizers are registered); the remaining cases must be exactly those the runner reports as skipped.
/// </summary>
public class ConformanceCaseTests
{
    private readonly ITestOutputHelper output;

    public ConformanceCaseTests(ITestOutputHelper output) => this.output = output;

    public static TheoryData<string, string> RunnableCases()
    {
        var data = new TheoryData<string, string>();
        foreach (ConformanceCase c in ConformanceCatalog.All.Where(c => c.Runnable))
        {
            data.Add(c.Folder, c.Name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(RunnableCases))]
    public void CaseMatchesTheReference(string folder, string name)
    {
        CheckResult result = Assert.Single(ConformanceRunner.RunCases(ConformanceCatalog.Locate(folder), new[] { name }));
        output.WriteLine(result.ToString());
        // Passed means relevance and model output are both within atol + rtol * max|expected|.
        Assert.True(result.Status == CheckStatus.Passed, result.ToString());
    }

    [Fact]
    public void SequentialBnCasesWithoutCanonizersAreAllRun()
    {
        // Issue 2: the gradient and the eight composites on sequential_bn (float64) must pass; make sure none of them
        // silently drops out of the runnable set.
        string[] expected =
        {
            "gradient", "epsilon_plus_flat", "epsilon_gamma_box", "epsilon_alpha2_beta1_flat", "epsilon_plus",
            "epsilon_alpha2_beta1", "guided_backprop", "excitation_backprop", "deconvnet",
        };
        var runnable = ConformanceCatalog.All.Where(c => c.Model == "sequential_bn" && c.Canonizers.Count == 0 && c.Runnable)
            .Select(c => c.Name).ToHashSet();
        Assert.Equal(expected.OrderBy(n => n), runnable.OrderBy(n => n));
    }

    [Fact]
    public void SkippedCasesAreExactlyThoseWithUnimplementedParts()
    {
        var notRunnable = ConformanceCatalog.All.Where(c => !c.Runnable).ToList();
        foreach (var group in notRunnable.GroupBy(c => c.Folder))
        {
            List<CheckResult> results = ConformanceRunner.RunCases(ConformanceCatalog.Locate(group.Key), group.Select(c => c.Name).ToArray()).ToList();
            foreach (CheckResult result in results)
            {
                output.WriteLine(result.ToString());
                Assert.True(result.Status == CheckStatus.Skipped, $"Expected a skip: {result}");
            }
            ConformanceCase first = group.First();
            if (first.MissingPart!.StartsWith("architecture", StringComparison.Ordinal))
            {
                // The whole folder is skipped at once when its model cannot be built.
                CheckResult whole = Assert.Single(results);
                Assert.Equal($"{first.Model}/*", whole.Name);
                Assert.Contains($"'{first.Architecture}'", whole.Detail, StringComparison.Ordinal);
                continue;
            }
            Assert.Equal(group.Select(c => $"{c.Model}/{c.Name}").OrderBy(n => n, StringComparer.Ordinal),
                results.Select(r => r.Name).OrderBy(n => n, StringComparer.Ordinal));
            foreach (ConformanceCase c in group)
            {
                CheckResult result = results.Single(r => r.Name == $"{c.Model}/{c.Name}");
                Assert.Contains(c.MissingPart!, result.Detail, StringComparison.Ordinal);
            }
        }
        output.WriteLine($"{ConformanceCatalog.All.Count(c => c.Runnable)} runnable, {notRunnable.Count} waiting for: " +
            string.Join(", ", notRunnable.Select(c => c.MissingPart).Distinct()));
    }
}
