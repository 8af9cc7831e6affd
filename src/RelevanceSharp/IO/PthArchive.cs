using System.IO.Compression;

namespace RelevanceSharp.IO;

/// <summary>
/// Checks the zip container of a <c>torch.save</c> file before the unpickler opens it: a readable zip with one
/// <c>data.pkl</c>, whose stored entries lie inside the file and whose entries together declare at most
/// <see cref="InputFile.DefaultMaxBytes"/> bytes once inflated (PyTorch stores entries uncompressed; TorchSharp's
/// writer deflates them, so a compressed entry is legitimate, but not a decompression bomb).
/// </summary>
public static class PthArchive
{
    /// <summary>The most entries a checkpoint may have (a large model has a few thousand).</summary>
    public const int MaxEntries = 1_000_000;

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming the file and what is wrong with its archive;
    /// <paramref name="fileLength"/> is the file's size, as <see cref="InputFile.Check"/> found it.
    /// </summary>
    public static void Check(string path, long fileLength)
    {
        ZipArchive archive;
        FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or ArgumentException)
        {
            stream.Dispose();
            throw Invalid(path, $"its zip container is damaged ({Cli(ex)})");
        }
        using (archive)
        {
            int pickles = 0;
            long total = 0;
            int count = 0;
            IEnumerable<ZipArchiveEntry> entries;
            try
            {
                entries = archive.Entries;
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException)
            {
                throw Invalid(path, $"its zip directory is damaged ({Cli(ex)})");
            }
            foreach (ZipArchiveEntry entry in entries)
            {
                if (++count > MaxEntries)
                {
                    throw Invalid(path, $"it has more than {MaxEntries:N0} entries");
                }
                bool stored = entry.CompressedLength == entry.Length;
                if (entry.Length < 0 || entry.CompressedLength < 0 || entry.CompressedLength > fileLength || (stored && entry.Length > fileLength))
                {
                    throw Invalid(path, $"entry '{entry.FullName}' declares {entry.Length:N0} bytes in a file of {fileLength:N0}");
                }
                total += entry.Length;
                if (total > InputFile.DefaultMaxBytes)
                {
                    throw Invalid(path, $"its entries inflate to more than {InputFile.DefaultMaxBytes:N0} bytes (a decompression bomb?)");
                }
                if (entry.FullName.EndsWith("data.pkl", StringComparison.Ordinal))
                {
                    pickles++;
                }
            }
            if (pickles != 1)
            {
                throw Invalid(path, pickles == 0
                    ? "it is a zip archive without a data.pkl, so not a PyTorch checkpoint"
                    : $"it holds {pickles} data.pkl entries; a PyTorch checkpoint has one");
            }
        }
    }

    private static string Cli(Exception ex) => ex.Message.Split('\n')[0].Trim().TrimEnd('.');

    private static InvalidDataException Invalid(string path, string problem) => new($"{path}: not a readable PyTorch checkpoint: {problem}.");
}
