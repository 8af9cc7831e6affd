using System.Globalization;
using System.Text.RegularExpressions;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.Imaging;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>What <see cref="ManifestMerge.Check"/> found.</summary>
/// <param name="Problems">One line per problem; none when every image of the list is explained exactly once.</param>
/// <param name="Shards">The number of shards the manifests split the list into (0 when not even that is known).</param>
/// <param name="Images">The images of the list.</param>
/// <param name="Manifests">The manifests read.</param>
/// <param name="Files">The output files the manifests list.</param>
/// <param name="Seconds">The images' times, summed.</param>
/// <param name="Header">The header of the first shard's manifest, or null when no manifest could be read.</param>
/// <param name="Entries">Each explained image's last line, with the folder of its manifest, in list order.</param>
public sealed record ManifestCoverage(
    IReadOnlyList<string> Problems, int Shards, int Images, int Manifests, int Files, double Seconds,
    ManifestHeader? Header, IReadOnlyList<(string Folder, ManifestEntry Entry)> Entries)
{
    /// <summary>Whether the manifests cover the list exactly once, without failures or missing files.</summary>
    public bool Complete => Problems.Count == 0;
}

/// <summary>
/// Checks that the manifests of the shards of one <c>relevance explain</c> list together cover every image exactly
/// once, and merges them into one. The headers alone show a missing shard, a shard split another way or made from
/// another list, and how many images each shard lacks; given the inputs as well, every missing image is named.
/// </summary>
public static partial class ManifestMerge
{
    /// <summary>
    /// The manifests that <paramref name="paths"/> name: a folder stands for the <c>manifest-K-of-N.jsonl</c> files
    /// directly inside it (sorted by name), a file for itself.
    /// </summary>
    /// <exception cref="FileNotFoundException">A path does not exist.</exception>
    /// <exception cref="InvalidDataException">A folder holds no manifest.</exception>
    public static IReadOnlyList<string> Find(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var result = new List<string>();
        foreach (string path in paths)
        {
            if (File.Exists(path))
            {
                result.Add(path);
            }
            else if (Directory.Exists(path))
            {
                var found = Directory.EnumerateFiles(path, "manifest-*-of-*.jsonl")
                    .Where(f => ManifestName().IsMatch(Path.GetFileName(f)))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (found.Count == 0)
                {
                    throw new InvalidDataException($"The folder '{path}' holds no manifest (manifest-K-of-N.jsonl).");
                }
                result.AddRange(found);
            }
            else
            {
                throw new FileNotFoundException($"'{path}' does not exist.", path);
            }
        }
        return result;
    }

    /// <summary>
    /// Checks that <paramref name="manifests"/> cover one image list exactly once: all of them split it into the
    /// same number of shards, come from the same list, model and attribution spec, every shard has one manifest, no image is
    /// in two shards, every image has a line without error and its files exist. With <paramref name="inputs"/> (the
    /// files and folders given to <c>relevance explain</c>) the list is found again and compared image by image.
    /// </summary>
    public static ManifestCoverage Check(IReadOnlyList<string> manifests, IReadOnlyList<string>? inputs = null)
    {
        ArgumentNullException.ThrowIfNull(manifests);
        var problems = new List<string>();
        var read = new List<(string Path, ManifestHeader Header, ManifestContent Content)>();
        foreach (string path in manifests)
        {
            try
            {
                ManifestContent content = ExplainManifest.Read(path);
                if (content.Header is not { } header)
                {
                    problems.Add($"{path}: no header line (its shard stopped before it began); run that shard again");
                    continue;
                }
                if (header.Shards < 1 || header.Shard < 0 || header.Shard >= header.Shards)
                {
                    problems.Add($"{path}: its header names shard {header.Shard}/{header.Shards}, which does not exist");
                    continue;
                }
                if (ManifestName().Match(Path.GetFileName(path)) is { Success: true } name
                    && (name.Groups[1].Value != Number(header.Shard) || name.Groups[2].Value != Number(header.Shards)))
                {
                    problems.Add($"{path}: its header says shard {header.Shard}/{header.Shards}");
                }
                read.Add((path, header, content));
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                problems.Add(ex.Message.TrimEnd('.'));
            }
        }
        if (read.Count == 0)
        {
            problems.Add("no manifest could be read");
            return new ManifestCoverage(problems, 0, 0, 0, 0, 0, null, []);
        }
        var splits = read.GroupBy(r => r.Header.Shards).OrderBy(g => g.Key).ToList();
        if (splits.Count > 1)
        {
            problems.Add("the manifests split the list into different numbers of shards: " +
                string.Join("; ", splits.Select(g => $"{g.Key} in {string.Join(", ", g.Select(r => r.Path))}")));
            return new ManifestCoverage(problems, 0, 0, read.Count, 0, 0, null, []);
        }
        int shards = splits[0].Key;
        var first = read.MinBy(r => r.Header.Shard);
        ManifestHeader reference = first.Header;
        foreach (var (path, header, _) in read)
        {
            if (ExplainManifest.Difference(header, reference) is { } difference)
            {
                problems.Add($"{path} does not belong with {first.Path}: {difference}");
            }
        }

        // Each shard's manifest, the images it explained, and which shard each image is in.
        var owner = new Dictionary<string, int>(StringComparer.Ordinal);
        var entries = new List<(string Folder, ManifestEntry Entry)>();
        int files = 0;
        double seconds = 0;
        for (int k = 0; k < shards; k++)
        {
            var own = read.Where(r => r.Header.Shard == k).ToList();
            if (own.Count == 0)
            {
                problems.Add($"shard {k}/{shards}: no manifest (manifest-{k}-of-{shards}.jsonl); run that shard");
                continue;
            }
            if (own.Count > 1)
            {
                problems.Add($"shard {k}/{shards} has {own.Count} manifests: {string.Join(", ", own.Select(r => r.Path))}");
            }
            var (path, header, content) = own[0];
            string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
            IReadOnlyDictionary<string, ManifestEntry> latest = content.Latest();
            foreach (var (name, entry) in latest.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                if (!owner.TryAdd(name, k))
                {
                    problems.Add($"{name}: in shard {owner[name]}/{shards} and in shard {k}/{shards}");
                    continue;
                }
                if (entry.Error is { } error)
                {
                    problems.Add($"{name}: failed in shard {k}/{shards}: {error}");
                    continue;
                }
                foreach (string output in entry.Outputs.Where(o => !File.Exists(Path.Combine(folder, o))))
                {
                    problems.Add($"{name}: its output '{Path.Combine(folder, output)}' is missing (shard {k}/{shards})");
                }
                entries.Add((folder, entry));
                files += entry.Outputs.Count;
                seconds += entry.Seconds;
            }
            if (latest.Count > header.Assigned)
            {
                problems.Add($"{path}: lists {latest.Count} images, but shard {k}/{shards} holds {header.Assigned}");
            }
            else if (inputs is null && latest.Count < header.Assigned)
            {
                problems.Add($"shard {k}/{shards}: {header.Assigned - latest.Count} of its {header.Assigned} images have no line in {path}; " +
                    "run that shard again with --resume");
            }
        }

        // The list itself: found again from the inputs, or, when the manifests name as many images as it has, theirs.
        IReadOnlyList<string>? list = null;
        if (inputs is not null)
        {
            list = ImageFiles.SortByName(ImageFiles.Find(inputs)).Select(f => Path.GetFileName(f)).ToList();
            if (ExplainManifest.ListDigest(list) != reference.List)
            {
                problems.Add($"the manifests were made from another image list than --inputs gives ({reference.Images} images; --inputs gives {list.Count})");
            }
        }
        else if (owner.Count == reference.Images)
        {
            list = owner.Keys.Order(StringComparer.Ordinal).ToList();
            if (ExplainManifest.ListDigest(list) != reference.List)
            {
                problems.Add($"the manifests name {list.Count} images, as many as the list has, but not the same ones");
            }
        }
        if (list is not null)
        {
            var listed = new HashSet<string>(list, StringComparer.Ordinal);
            for (int i = 0; i < list.Count; i++)
            {
                int expected = Shard.Of(i, shards);
                if (!owner.TryGetValue(list[i], out int k))
                {
                    problems.Add($"{list[i]}: missing (shard {expected}/{shards})");
                }
                else if (k != expected)
                {
                    problems.Add($"{list[i]}: in shard {k}/{shards}, but the list puts it in shard {expected}/{shards}");
                }
            }
            problems.AddRange(owner.Where(o => !listed.Contains(o.Key)).OrderBy(o => o.Key, StringComparer.Ordinal)
                .Select(o => $"{o.Key}: in shard {o.Value}/{shards}, but not in the list"));
        }
        entries.Sort((a, b) => StringComparer.Ordinal.Compare(a.Entry.Name, b.Entry.Name));
        return new ManifestCoverage(problems, shards, reference.Images, read.Count, files, seconds, reference, entries);
    }

    /// <summary>
    /// Writes the manifest of the whole list (as one shard, 0/1) from a complete coverage: the header, then each
    /// image's line in list order with its outputs relative to the new manifest's folder. The file appears whole or
    /// not at all.
    /// </summary>
    /// <exception cref="InvalidOperationException">The coverage is not complete.</exception>
    public static void Write(string path, ManifestCoverage coverage)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(coverage);
        if (!coverage.Complete || coverage.Header is null)
        {
            throw new InvalidOperationException("Only a complete coverage is merged.");
        }
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        using var bytes = new MemoryStream();
        bytes.Write(ExplainManifest.Line(coverage.Header with { Shard = 0, Shards = 1, Assigned = coverage.Images }));
        foreach (var (from, entry) in coverage.Entries)
        {
            bytes.Write(ExplainManifest.Line(entry with
            {
                Outputs = entry.Outputs.Select(o => Path.GetRelativePath(folder, Path.Combine(from, o))).ToList(),
            }));
        }
        AtomicFile.Write(path, bytes.ToArray());
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^manifest-(\d+)-of-(\d+)\.jsonl$", RegexOptions.CultureInvariant)]
    private static partial Regex ManifestName();
}
