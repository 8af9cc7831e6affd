namespace RelevanceSharp.IO;

/// <summary>
/// Reads files that may come from anywhere (images, checkpoints, reference cases): regular files only, never more
/// than a size limit, and every problem as one <see cref="InvalidDataException"/> or <see cref="FileNotFoundException"/>
/// line that names the file. A device (<c>/dev/zero</c>), a named pipe or a socket, also behind a symbolic link, is
/// refused before it is opened, so that reading it can neither block nor run out of memory.
/// </summary>
public static class InputFile
{
    /// <summary>The largest file read unless a caller allows more: 4 GiB, above any checkpoint of the model zoo.</summary>
    public const long DefaultMaxBytes = 4L << 30;

    /// <summary>
    /// Checks that <paramref name="path"/> is a readable regular file of at most <paramref name="maxBytes"/> bytes;
    /// returns its size. <paramref name="what"/> names the kind of file in messages ("image", "checkpoint").
    /// </summary>
    public static long Check(string path, string what, long maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        if (Directory.Exists(path))
        {
            throw new InvalidDataException($"Cannot read {what} '{path}': it is a folder, not a file.");
        }
        FileInfo file = new(path);
        if (!file.Exists)
        {
            throw new FileNotFoundException($"Cannot read {what} '{path}': the file does not exist.", path);
        }
        FileSystemInfo target = file;
        if (file.LinkTarget is not null)
        {
            try
            {
                target = file.ResolveLinkTarget(returnFinalTarget: true) ?? file;
            }
            catch (IOException ex)
            {
                throw new InvalidDataException($"Cannot read {what} '{path}': its link cannot be followed ({ex.Message}).", ex);
            }
            if (!target.Exists || target is DirectoryInfo || (target.Attributes & FileAttributes.Directory) != 0)
            {
                throw new InvalidDataException($"Cannot read {what} '{path}': it links to '{target.FullName}', which is not a regular file.");
            }
        }
        if (IsSpecial(target.FullName))
        {
            throw new InvalidDataException($"Cannot read {what} '{path}': '{target.FullName}' is a device or system file, not a regular file.");
        }
        long length = new FileInfo(target.FullName).Length;
        if (length == 0)
        {
            // Regular empty files, and devices, pipes and sockets, which report no size: none can be read, and the last
            // ones would block or never end.
            throw new InvalidDataException($"Cannot read {what} '{path}': it is empty or not a regular file (a device, pipe or socket).");
        }
        if (length > maxBytes)
        {
            throw new InvalidDataException(
                $"Cannot read {what} '{path}': it has {length:N0} bytes, more than the limit of {maxBytes:N0} bytes.");
        }
        return length;
    }

    /// <summary>
    /// Reads a whole file after <see cref="Check"/>, never more than <paramref name="maxBytes"/> bytes even if the file
    /// grows meanwhile.
    /// </summary>
    public static byte[] ReadAll(string path, string what, long maxBytes = DefaultMaxBytes)
    {
        long length = Check(path, what, maxBytes);
        if (length > Array.MaxLength)
        {
            throw new InvalidDataException($"Cannot read {what} '{path}': at {length:N0} bytes it is too large to hold in memory at once.");
        }
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            var bytes = new byte[length];
            int read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (read < bytes.Length)
            {
                throw new InvalidDataException($"Cannot read {what} '{path}': it shrank while it was read ({read:N0} of {length:N0} bytes).");
            }
            return bytes;
        }
        catch (Exception ex) when (ex is IOException and not FileNotFoundException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Cannot read {what} '{path}': {ex.Message}", ex);
        }
    }

    private static bool IsSpecial(string fullPath) =>
        OperatingSystem.IsLinux()
        && new[] { "/dev/", "/proc/", "/sys/" }.Any(prefix => fullPath.StartsWith(prefix, StringComparison.Ordinal));
}
