namespace RelevanceSharp.Language.IO;

/// <summary>
/// Resolves file names found inside a model folder (shard names in an index, tokenizer files) so that nothing outside
/// the folder is read: the name must be relative, without <c>..</c> segments, and neither the file nor any folder on
/// its way may be a link that leads out of the model folder.
/// </summary>
internal static class FolderFiles
{
    /// <summary>The folder's own location with links resolved: where every file read from it must lie.</summary>
    public static string Root(string folder)
    {
        var info = new DirectoryInfo(Path.GetFullPath(folder));
        if (!info.Exists)
        {
            throw new DirectoryNotFoundException($"Model folder '{folder}' does not exist.");
        }
        return Path.TrimEndingDirectorySeparator(Resolve(info).FullName);
    }

    /// <summary>
    /// The full path of <paramref name="name"/> inside <paramref name="root"/> (from <see cref="Root"/>), or an
    /// <see cref="InvalidDataException"/> naming <paramref name="source"/> when the name is absolute, climbs out with
    /// <c>..</c>, or leads out of the folder through a link. The file need not exist.
    /// </summary>
    public static string Inside(string root, string name, string source)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || name.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{source}: the file name '{name}' is empty or holds a NUL character.");
        }
        if (Path.IsPathRooted(name) || name.StartsWith('/') || name.StartsWith('\\') || name.StartsWith('~'))
        {
            throw new InvalidDataException($"{source}: the file name '{name}' is an absolute path; files must lie inside the model folder.");
        }
        string[] segments = name.Split('/', '\\');
        if (segments.Any(s => s == ".."))
        {
            throw new InvalidDataException($"{source}: the file name '{name}' climbs out of the model folder with '..'.");
        }
        string current = root;
        foreach (string segment in segments.Where(s => s.Length > 0 && s != "."))
        {
            current = Path.Combine(current, segment);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.LinkTarget is not null)
            {
                current = Resolve(info).FullName;
            }
            if (!IsWithin(root, current))
            {
                throw new InvalidDataException(
                    $"{source}: '{name}' leads out of the model folder (through a link to '{current}'); copy the files into the folder instead.");
            }
        }
        return current;
    }

    private static FileSystemInfo Resolve(FileSystemInfo info)
    {
        try
        {
            return info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
        }
        catch (IOException ex)
        {
            throw new InvalidDataException($"'{info.FullName}' is a link that cannot be followed ({ex.Message}).", ex);
        }
    }

    private static bool IsWithin(string root, string path)
    {
        string full = Path.GetFullPath(path);
        return full.Length > root.Length
            && full.StartsWith(root, StringComparison.Ordinal)
            && (full[root.Length] == Path.DirectorySeparatorChar || root.EndsWith(Path.DirectorySeparatorChar));
    }
}
