namespace RelevanceSharp.IO;

/// <summary>
/// Writes files so that each appears complete or not at all: the bytes go to a hidden temporary file in the target's
/// folder, which is then renamed over the target. A failure removes the temporary file.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes one file.</summary>
    /// <exception cref="IOException">The file could not be written; the message names it.</exception>
    public static void Write(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(bytes);
        WriteAll(new[] { (path, bytes) });
    }

    /// <summary>
    /// Writes a group of files that belong together (e.g. the heatmap and the relevance of one image): all of them
    /// are written to temporary files first and renamed into place only when every one was written. If anything
    /// fails, the temporary files and the files of the group already renamed are removed, so none of the group is
    /// left behind.
    /// </summary>
    /// <exception cref="IOException">A file could not be written; the message names it.</exception>
    public static void WriteAll(IReadOnlyList<(string Path, byte[] Bytes)> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var pending = new List<(string Temporary, string Target)>(files.Count);
        var placed = new List<string>(files.Count);
        string current = "";
        try
        {
            foreach (var (path, bytes) in files)
            {
                current = path;
                string full = Path.GetFullPath(path);
                string folder = Path.GetDirectoryName(full) ?? ".";
                if (!Directory.Exists(folder))
                {
                    throw new DirectoryNotFoundException($"the folder '{folder}' does not exist");
                }
                string temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
                pending.Add((temporary, full));
                using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write);
                stream.Write(bytes);
            }
            foreach (var (temporary, target) in pending)
            {
                current = target;
                File.Move(temporary, target, overwrite: true);
                placed.Add(target);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Cleanup(pending, placed);
            throw new IOException($"Cannot write '{current}': {ex.Message}", ex);
        }
        catch
        {
            Cleanup(pending, placed);
            throw;
        }
    }

    private static void Cleanup(List<(string Temporary, string Target)> pending, List<string> placed)
    {
        foreach (var (temporary, _) in pending)
        {
            TryDelete(temporary);
        }
        foreach (string target in placed)
        {
            TryDelete(target);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Nothing more can be done; the original error is the one to report.
        }
    }
}
