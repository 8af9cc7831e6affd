namespace RelevanceSharp.Onnx.Reading;

/// <summary>
/// Reads a model's external data from untrusted locations: only files inside the model's folder, after resolving every
/// symbolic link on the way, and only the byte range asked for. Whole files go through <see cref="IO.InputFile"/>.
/// </summary>
internal static class SafeFile
{
    /// <summary>Reads <paramref name="count"/> bytes from <paramref name="offset"/> of a checked file.</summary>
    public static byte[] ReadRange(string path, string what, long offset, long count)
    {
        if (count > Array.MaxLength)
        {
            throw new InvalidDataException($"Cannot read {what} '{path}': {count:N0} bytes are too many to hold at once.");
        }
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            stream.Seek(offset, SeekOrigin.Begin);
            var bytes = new byte[count];
            int read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (read < bytes.Length)
            {
                throw new InvalidDataException($"Cannot read {what} '{path}': it ended after {read:N0} of {count:N0} bytes (it changed while it was read?).");
            }
            return bytes;
        }
        catch (Exception ex) when (ex is IOException and not FileNotFoundException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Cannot read {what} '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Resolves a relative location from a model file (ONNX external data) to a file inside the model's folder.
    /// Refused: an empty or absolute location, a <c>..</c> or empty segment, characters no file name has, and any
    /// location that, after resolving symbolic links (of the folder's entries and of the file), lies outside the folder.
    /// </summary>
    public static string Beside(string modelPath, string location, string what)
    {
        if (location.Length == 0 || location.Length > 4096)
        {
            throw new InvalidDataException($"{what}: the location of external data is empty or too long.");
        }
        if (location.Any(c => c == '\0' || c == '\\' || char.IsControl(c)) || Path.IsPathRooted(location) || location.Contains(':'))
        {
            throw new InvalidDataException($"{what}: the external data location '{Errors.Clip(location)}' is not a plain relative path beside the model.");
        }
        string[] segments = location.Split('/');
        if (segments.Any(s => s is "" or "." or ".."))
        {
            throw new InvalidDataException($"{what}: the external data location '{Errors.Clip(location)}' may not contain empty, '.' or '..' segments.");
        }
        string folder = Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? "/";
        string realFolder = RealPath(folder, "model folder", folder);
        string candidate = Path.Combine(realFolder, Path.Combine(segments));
        if (!File.Exists(candidate))
        {
            throw new InvalidDataException($"{what}: the external data file '{Errors.Clip(location)}' does not exist beside the model.");
        }
        string real = RealPath(candidate, "external data", location);
        string prefix = realFolder.EndsWith(Path.DirectorySeparatorChar) ? realFolder : realFolder + Path.DirectorySeparatorChar;
        if (!real.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{what}: the external data file '{Errors.Clip(location)}' links to '{Errors.Clip(real)}', outside the model's folder.");
        }
        return real;
    }

    /// <summary>
    /// The path with every symbolic link resolved, component by component (the runtime resolves only the last one),
    /// within a bounded number of links.
    /// </summary>
    public static string RealPath(string fullPath, string what, string shown)
    {
        var pending = new Stack<string>(Path.GetFullPath(fullPath).Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse());
        string current = Path.GetPathRoot(Path.GetFullPath(fullPath)) ?? "/";
        int links = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            string next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            string? target = info.Exists || info.LinkTarget is not null ? info.LinkTarget : null;
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++links > 40)
            {
                throw new InvalidDataException($"Cannot read {what} '{shown}': too many symbolic links on its path.");
            }
            string resolved = Path.IsPathRooted(target) ? target : Path.Combine(current, target);
            string root = Path.GetPathRoot(resolved) ?? "/";
            foreach (string p in resolved[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse())
            {
                pending.Push(p);
            }
            current = root;
        }
        return current;
    }
}
