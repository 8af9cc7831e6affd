using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Vision.Imaging;

namespace RelevanceSharp.Tests.Explaining;

/// <summary>
/// <see cref="Shard"/>: N shards of a list cover it exactly once, in sizes that differ by at most one, whatever order
/// the files come in; <c>K/N</c> and <c>auto/N</c> are read as the schedulers number their tasks.
/// </summary>
public sealed class ShardTests
{
    [Fact]
    public void EveryNShardsCoverTheListExactlyOnceInBalancedParts()
    {
        for (int items = 0; items <= 25; items++)
        {
            string[] list = Enumerable.Range(0, items).Select(i => $"image{i:D2}.png").ToArray();
            for (int count = 1; count <= 9; count++)
            {
                var parts = Enumerable.Range(0, count).Select(k => new Shard(k, count).Select(list)).ToList();

                string[] together = parts.SelectMany(p => p).ToArray();
                Assert.Equal(items, together.Length);
                Assert.Equal(list, together.Order(StringComparer.Ordinal));
                Assert.True(parts.Max(p => p.Count) - parts.Min(p => p.Count) <= 1, $"{items} items in {count} shards: sizes {string.Join(",", parts.Select(p => p.Count))}");
                for (int k = 0; k < count; k++)
                {
                    // Each shard keeps the list's order, and Shard.Of says which shard an item is in.
                    Assert.Equal(parts[k].Order(StringComparer.Ordinal), parts[k]);
                    Assert.All(parts[k], item => Assert.Equal(k, Shard.Of(Array.IndexOf(list, item), count)));
                }
            }
        }
    }

    [Fact]
    public void TheListsOrderDoesNotDependOnHowTheFilesAreGivenOrWhereTheyAreMounted()
    {
        string[] names = ["b.png", "a.jpg", "C.png", "a0.png", "z.webp", "ä.png", "10.png", "9.png"];
        string[] expected = ["10.png", "9.png", "C.png", "a.jpg", "a0.png", "b.png", "z.webp", "ä.png"];
        for (int seed = 0; seed < 20; seed++)
        {
            var random = new Random(seed);
            string[] mounts = ["/data/", "/mnt/shared/data/", "relative/", ""];
            // The same images, from folders mounted in different places and in any order.
            string[] files = names.Select(n => mounts[random.Next(mounts.Length)] + (random.Next(2) == 0 ? "one/" : "two/") + n)
                .OrderBy(_ => random.Next()).ToArray();

            Assert.Equal(expected, ImageFiles.SortByName(files).Select(Path.GetFileName));
        }
    }

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("2/3", 2, 3)]
    [InlineData("AUTO/4", 3, 4)]
    public void KAndNAreReadAsGiven(string text, int index, int count)
    {
        Shard shard = Shard.Parse(text, Lookup((Shard.SlurmIndexVariable, "3")));
        Assert.Equal(new Shard(index, count), shard);
        Assert.Equal($"manifest-{index}-of-{count}.jsonl", shard.ManifestName);
    }

    [Theory]
    [InlineData("3/3", "K must be a number from 0 to 2")]
    [InlineData("-1/3", "K must be a number from 0 to 2")]
    [InlineData("1/0", "takes K/N")]
    [InlineData("1", "takes K/N")]
    [InlineData("1/2/3", "takes K/N")]
    [InlineData("a/b", "takes K/N")]
    public void AShardOutsideTheListIsRefused(string text, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => Shard.Parse(text, Lookup()));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("--shard ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AutoTakesKFromSlurmOrFromKubernetes()
    {
        Assert.Equal(new Shard(2, 5), Shard.Parse("auto/5", Lookup((Shard.SlurmIndexVariable, "2"), (Shard.SlurmMaxVariable, "4"))));
        Assert.Equal(new Shard(4, 5), Shard.Parse("auto/5", Lookup((Shard.KubernetesIndexVariable, "4"))));
        Assert.Equal(new Shard(1, 5), Shard.Parse("auto/5", Lookup((Shard.SlurmIndexVariable, "1"), (Shard.KubernetesIndexVariable, "1"))));
        // An array submitted again for some shards only keeps their numbers.
        Assert.Equal(new Shard(3, 5), Shard.Parse("auto/5", Lookup((Shard.SlurmIndexVariable, "3"), (Shard.SlurmMaxVariable, "3"))));
    }

    [Theory]
    [InlineData(null, null, null, "neither is set")]
    [InlineData("", " ", null, "neither is set")]
    [InlineData("5", null, null, "SLURM_ARRAY_TASK_ID is 5, but shards are numbered 0 to 4; submit the array as --array=0-4")]
    [InlineData("x1", null, null, "SLURM_ARRAY_TASK_ID is 'x1', not a whole number from 0 to 4")]
    [InlineData("-1", null, null, "not a whole number")]
    [InlineData(null, "7", null, "JOB_COMPLETION_INDEX is 7, but shards are numbered 0 to 4; give the Job completions: 5")]
    [InlineData("1", "2", null, "SLURM_ARRAY_TASK_ID (1) and JOB_COMPLETION_INDEX (2) disagree")]
    [InlineData("1", null, "5", "the Slurm array goes up to 5 (SLURM_ARRAY_TASK_MAX)")]
    public void AutoWithoutAFittingVariableIsRefused(string? slurm, string? kubernetes, string? slurmMax, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => Shard.Parse("auto/5",
            Lookup((Shard.SlurmIndexVariable, slurm), (Shard.KubernetesIndexVariable, kubernetes), (Shard.SlurmMaxVariable, slurmMax))));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    private static Func<string, string?> Lookup(params (string Name, string? Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;
}
