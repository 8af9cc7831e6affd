using System.Globalization;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>
/// Part <see cref="Index"/> of <see cref="Count"/> disjoint parts of an image list in its canonical order
/// (<see cref="ImageFiles.SortByName"/>). Parts are numbered from 0, as Slurm numbers array tasks (<c>--array=0-9</c>)
/// and Kubernetes numbers the pods of an Indexed Job, so that every task of an array runs the same command line.
/// Part K holds the images at positions K, K + N, K + 2N, ... (round robin): the parts differ in size by at most one
/// image, and images that sort next to each other (often similar: one camera, one class, one size) are spread over
/// all parts, so that the parts take about the same time, which contiguous blocks would not ensure.
/// </summary>
public sealed record Shard
{
    /// <summary>The variable Slurm sets to the array task's index.</summary>
    public const string SlurmIndexVariable = "SLURM_ARRAY_TASK_ID";

    /// <summary>The variable Slurm sets to the highest index of the array.</summary>
    public const string SlurmMaxVariable = "SLURM_ARRAY_TASK_MAX";

    /// <summary>The variable Kubernetes sets to the pod's index in an Indexed Job.</summary>
    public const string KubernetesIndexVariable = "JOB_COMPLETION_INDEX";

    /// <summary>Part <paramref name="index"/> of <paramref name="count"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The count is below 1 or the index outside 0 to count - 1.</exception>
    public Shard(int index, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        Index = index;
        Count = count;
    }

    /// <summary>The whole list as one part: 0 of 1.</summary>
    public static Shard All { get; } = new(0, 1);

    /// <summary>The part's number, from 0.</summary>
    public int Index { get; }

    /// <summary>The number of parts.</summary>
    public int Count { get; }

    /// <summary>The file name of the part's manifest: <c>manifest-K-of-N.jsonl</c>.</summary>
    public string ManifestName => string.Create(CultureInfo.InvariantCulture, $"manifest-{Index}-of-{Count}.jsonl");

    /// <summary>Which part holds the item at <paramref name="position"/> of a list split into <paramref name="count"/> parts.</summary>
    public static int Of(int position, int count) => position % count;

    /// <summary>The items of <paramref name="items"/> (in their canonical order) that this part holds, in that order.</summary>
    public IReadOnlyList<T> Select<T>(IReadOnlyList<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var result = new List<T>(items.Count / Count + 1);
        for (int i = Index; i < items.Count; i += Count)
        {
            result.Add(items[i]);
        }
        return result;
    }

    /// <summary><c>K/N</c>, as <see cref="Parse"/> reads it.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>
    /// Reads <c>K/N</c>, or <c>auto/N</c>, which takes K from <see cref="SlurmIndexVariable"/> or
    /// <see cref="KubernetesIndexVariable"/> through <paramref name="environment"/>. K is used as given, not relative
    /// to the array's first index, so that an array submitted again for some indices only (<c>--array=3,7</c>) runs
    /// those very parts; an array that reaches N or beyond (<c>--array=1-10</c> for N = 10) is refused in every task.
    /// </summary>
    /// <param name="text">The value of <c>--shard</c>.</param>
    /// <param name="environment">Looks up an environment variable (null when it is not set).</param>
    /// <exception cref="ArgumentException">The text or the variable does not give a part; the message says why.</exception>
    public static Shard Parse(string text, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(environment);
        string[] parts = text.Split('/');
        if (parts.Length != 2 || !TryNumber(parts[1], out int count) || count < 1)
        {
            throw new ArgumentException($"--shard takes K/N, with N at least 1 and K from 0 to N-1 or 'auto'; got '{text}'.");
        }
        string last = (count - 1).ToString(CultureInfo.InvariantCulture);
        if (!string.Equals(parts[0], "auto", StringComparison.OrdinalIgnoreCase))
        {
            if (!TryNumber(parts[0], out int index) || index >= count)
            {
                throw new ArgumentException($"--shard {text}: K must be a number from 0 to {last} (shards are numbered from 0) or 'auto'.");
            }
            return new Shard(index, count);
        }
        string? slurm = Variable(environment, SlurmIndexVariable);
        string? kubernetes = Variable(environment, KubernetesIndexVariable);
        if (slurm is null && kubernetes is null)
        {
            throw new ArgumentException(
                $"--shard {text} takes K from {SlurmIndexVariable} (a Slurm array job) or {KubernetesIndexVariable} (a Kubernetes Indexed Job), and neither is set.");
        }
        if (slurm is not null && kubernetes is not null && slurm != kubernetes)
        {
            throw new ArgumentException($"--shard {text}: {SlurmIndexVariable} ({slurm}) and {KubernetesIndexVariable} ({kubernetes}) disagree.");
        }
        string variable = slurm is not null ? SlurmIndexVariable : KubernetesIndexVariable;
        string value = slurm ?? kubernetes!;
        string fix = slurm is not null ? $"submit the array as --array=0-{last}" : $"give the Job completions: {count}";
        if (slurm is not null && Variable(environment, SlurmMaxVariable) is { } max && TryNumber(max, out int highest) && highest >= count)
        {
            throw new ArgumentException($"--shard {text}: the Slurm array goes up to {highest} ({SlurmMaxVariable}), but shards are numbered 0 to {last}; {fix}.");
        }
        if (!TryNumber(value, out int k))
        {
            throw new ArgumentException($"--shard {text}: {variable} is '{value}', not a whole number from 0 to {last}.");
        }
        if (k >= count)
        {
            throw new ArgumentException($"--shard {text}: {variable} is {k}, but shards are numbered 0 to {last}; {fix}.");
        }
        return new Shard(k, count);
    }

    private static string? Variable(Func<string, string?> environment, string name) =>
        environment(name) is { } value && value.Trim().Length > 0 ? value.Trim() : null;

    private static bool TryNumber(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
