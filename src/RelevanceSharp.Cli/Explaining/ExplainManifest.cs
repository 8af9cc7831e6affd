using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>
/// The first line of a manifest: which part of which image list it covers and what was computed. Every part of one
/// list carries the same <see cref="Images"/>, <see cref="List"/>, <see cref="Model"/>, <see cref="Spec"/> and
/// <see cref="Method"/>, and
/// <see cref="Shards"/> tells how many parts there are, so the manifests alone show whether a part is missing.
/// </summary>
public sealed record ManifestHeader
{
    /// <summary>The value of <see cref="Format"/> this version writes and reads.</summary>
    public const string FormatName = "relevance-manifest/1";

    /// <summary>What the file is: <see cref="FormatName"/>.</summary>
    public string Format { get; init; } = FormatName;

    /// <summary>The part, from 0 (<see cref="Explaining.Shard.Index"/>).</summary>
    public required int Shard { get; init; }

    /// <summary>The number of parts (<see cref="Explaining.Shard.Count"/>).</summary>
    public required int Shards { get; init; }

    /// <summary>The images of the whole list, all parts together.</summary>
    public required int Images { get; init; }

    /// <summary>The images this part holds.</summary>
    public required int Assigned { get; init; }

    /// <summary>A digest of the whole list's file names in order (<see cref="ExplainManifest.ListDigest"/>).</summary>
    public required string List { get; init; }

    /// <summary>The model, as the job describes it.</summary>
    public required string Model { get; init; }

    /// <summary>What was computed (method, composite, canonizers, target), as the job describes it.</summary>
    public required string Method { get; init; }

    /// <summary>
    /// The attribution spec in its canonical text (<see cref="Attribution.AttributionSpec.Canonical"/>): method, composite,
    /// canonizers and every argument at its value, so that parts made with other arguments are told apart.
    /// <c>null</c> in manifests of versions that did not record it, which resumed or merged runs refuse.
    /// </summary>
    public string? Spec { get; init; }
}

/// <summary>
/// A line of a manifest after the header: one image, written once its files are completely written, or once it
/// failed (then with <see cref="Error"/> and no outputs). An image may appear again further down when a resumed run
/// explained it again; the last line counts.
/// </summary>
public sealed record ManifestEntry
{
    /// <summary>The input image, as the run was given it.</summary>
    public required string File { get; init; }

    /// <summary>The class with the highest score.</summary>
    public long? Predicted { get; init; }

    /// <summary>Its name (the index when the model has no class names).</summary>
    public string? Class { get; init; }

    /// <summary>Its softmax probability.</summary>
    public double? Probability { get; init; }

    /// <summary>The class explained.</summary>
    public long? Target { get; init; }

    /// <summary>The files written, heatmap first, relative to the manifest's folder.</summary>
    public IReadOnlyList<string> Outputs { get; init; } = [];

    /// <summary>The image's time: its share of its batch's attribution and the writing of its files.</summary>
    public double Seconds { get; init; }

    /// <summary>Why the image has no files, or null when it has them.</summary>
    public string? Error { get; init; }

    /// <summary>
    /// Per layer asked for with <c>--top-channels</c>, the channels holding the most relevance for the target, most first
    /// (<see cref="ChannelRelevance"/>); null without.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<ChannelRelevance>>? TopChannels { get; init; }

    /// <summary>The image's name: its path relative to the folder it was found in, which identifies it in the list.</summary>
    [JsonIgnore]
    public string Name => Path.GetFileName(File);
}

/// <summary>A channel of a layer and the sum of its relevance over its positions.</summary>
/// <param name="Channel">The channel's index.</param>
/// <param name="Relevance">The signed sum of the relevance (or gradient) of the channel's positions.</param>
public sealed record ChannelRelevance(long Channel, double Relevance);

/// <summary>What a manifest file holds: its header (null when not even that was written) and its complete lines.</summary>
/// <param name="Header">The first line.</param>
/// <param name="Entries">The image lines, in the order they were written.</param>
/// <param name="Length">The bytes of the complete lines; anything after them is a line cut short.</param>
public sealed record ManifestContent(ManifestHeader? Header, IReadOnlyList<ManifestEntry> Entries, long Length)
{
    /// <summary>The last line of each image, by <see cref="ManifestEntry.Name"/>.</summary>
    public IReadOnlyDictionary<string, ManifestEntry> Latest()
    {
        var latest = new Dictionary<string, ManifestEntry>(StringComparer.Ordinal);
        foreach (ManifestEntry entry in Entries)
        {
            latest[entry.Name] = entry;
        }
        return latest;
    }
}

/// <summary>
/// Manifests of <c>relevance explain</c>: <c>manifest-K-of-N.jsonl</c> in the output folder, a JSON header line and
/// one JSON line per image. A line counts once its newline is written, and each line is flushed as it is written, so
/// a run that is stopped leaves a manifest of complete lines, perhaps followed by a line cut short, which readers
/// pass over and a resumed run cuts off before it appends.
/// </summary>
public static class ExplainManifest
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // The lines go to files, not into HTML: quotes and non-ASCII names stay readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// A digest of a list of image names in order (SHA-256 of the names, each followed by a newline), so that parts
    /// made from different lists are told apart without the lists.
    /// </summary>
    public static string ListDigest(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string name in names)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name));
            hash.AppendData("\n"u8);
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Reads a manifest file (while no run writes it).</summary>
    /// <exception cref="IOException">The file cannot be read, e.g. because a run of its part holds it.</exception>
    /// <exception cref="InvalidDataException">A complete line is not what a manifest holds; the message names file and line.</exception>
    public static ManifestContent Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (IOException ex) when (ex is not FileNotFoundException)
        {
            throw new IOException($"Cannot read the manifest '{path}' (is a run of its shard still writing it?): {ex.Message}", ex);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses the bytes of a manifest; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">A complete line is not what a manifest holds.</exception>
    public static ManifestContent Parse(ReadOnlySpan<byte> bytes, string source)
    {
        int length = bytes.LastIndexOf((byte)'\n') + 1;
        ManifestHeader? header = null;
        var entries = new List<ManifestEntry>();
        int line = 0;
        foreach (Range range in bytes[..length].Split((byte)'\n'))
        {
            ReadOnlySpan<byte> text = bytes[range];
            line++;
            if (range.Start.Value == length)
            {
                break;
            }
            if (header is null)
            {
                header = Deserialize<ManifestHeader>(text, source, line);
                if (header.Format != ManifestHeader.FormatName)
                {
                    throw new InvalidDataException($"{source}: not a manifest of 'relevance explain' (its first line is no {ManifestHeader.FormatName} header).");
                }
                continue;
            }
            ManifestEntry entry = Deserialize<ManifestEntry>(text, source, line);
            if (entry.File.Length == 0 || entry.Outputs is null || entry.Outputs.Any(o => string.IsNullOrEmpty(o)))
            {
                throw new InvalidDataException($"{source}: line {line} lacks the image's file or has an empty output.");
            }
            entries.Add(entry);
        }
        return new ManifestContent(header, entries, length);
    }

    /// <summary>
    /// Why a manifest with header <paramref name="found"/> does not belong with one with <paramref name="expected"/>
    /// (another split, image list, model, attribution spec or target; the part itself aside), or null when it does.
    /// </summary>
    public static string? Difference(ManifestHeader found, ManifestHeader expected)
    {
        ArgumentNullException.ThrowIfNull(found);
        ArgumentNullException.ThrowIfNull(expected);
        if (found.Shards != expected.Shards)
        {
            return $"it splits the list into {found.Shards} shards, not {expected.Shards}";
        }
        if (found.Images != expected.Images || found.List != expected.List)
        {
            return found.Images == expected.Images
                ? $"it was made from another list of {found.Images} images (other names)"
                : $"it was made from another image list ({found.Images} images, not {expected.Images})";
        }
        if (found.Model != expected.Model)
        {
            return $"it was made with {found.Model}, not {expected.Model}";
        }
        if (found.Spec != expected.Spec)
        {
            return found.Spec is null || expected.Spec is null
                ? $"it records {(found.Spec is null ? "no attribution spec (an older relevance wrote it)" : found.Spec)}, and this run {expected.Spec ?? "none"}"
                : $"it computed {found.Spec}, not {expected.Spec}";
        }
        return found.Method != expected.Method ? $"it computed {found.Method}, not {expected.Method}" : null;
    }

    /// <summary>One line of a manifest: the value as JSON, and a newline.</summary>
    internal static byte[] Line<T>(T value)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(value, Json);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }

    private static T Deserialize<T>(ReadOnlySpan<byte> text, string source, int line)
    {
        if (!Utf8.IsValid(text))
        {
            throw new InvalidDataException($"{source}: line {line} is not valid UTF-8 text.");
        }
        try
        {
            return JsonSerializer.Deserialize<T>(text, Json) ?? throw new JsonException("null");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: line {line} is not a manifest line ({ex.Message.Split('.')[0]}).", ex);
        }
    }
}

/// <summary>
/// Appends to the manifest of one part while a run explains it. The file is held exclusively, so that a second run of
/// the same part into the same folder is refused instead of mixing its lines in.
/// </summary>
public sealed class ManifestWriter : IDisposable
{
    private readonly FileStream stream;

    private ManifestWriter(FileStream stream) => this.stream = stream;

    /// <summary>The manifest's path.</summary>
    public string Path => stream.Name;

    /// <summary>
    /// Opens the manifest at <paramref name="path"/>. A new run starts it afresh with <paramref name="header"/>; a
    /// resumed run (<paramref name="resume"/>) keeps the complete lines of a manifest with the same header, cuts off
    /// a line cut short, and appends.
    /// </summary>
    /// <exception cref="IOException">The file cannot be opened, e.g. because another run of the part holds it.</exception>
    /// <exception cref="InvalidDataException">A resumed manifest has another header (it belongs to another run).</exception>
    public static ManifestWriter Open(string path, ManifestHeader header, bool resume)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(header);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        }
        catch (IOException ex)
        {
            throw new IOException($"Cannot open the manifest '{path}' (is another run of this shard writing it?): {ex.Message}", ex);
        }
        try
        {
            long keep = 0;
            if (resume && stream.Length > 0)
            {
                var bytes = new byte[stream.Length];
                stream.ReadExactly(bytes);
                ManifestContent content = ExplainManifest.Parse(bytes, path);
                if (content.Header is not null && content.Header != header)
                {
                    throw new InvalidDataException(
                        $"The manifest '{path}' belongs to another run ({ExplainManifest.Difference(content.Header, header) ?? $"shard {content.Header.Shard}/{content.Header.Shards}"}); remove it to start this shard afresh.");
                }
                keep = content.Header is null ? 0 : content.Length;
            }
            stream.SetLength(keep);
            stream.Seek(keep, SeekOrigin.Begin);
            var writer = new ManifestWriter(stream);
            if (keep == 0)
            {
                writer.Append(header);
            }
            return writer;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends an image's line and hands it to the operating system at once.</summary>
    public void Add(ManifestEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Append(entry);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => stream.Dispose();

    private void Append<T>(T value)
    {
        stream.Write(ExplainManifest.Line(value));
        stream.Flush();
    }
}
