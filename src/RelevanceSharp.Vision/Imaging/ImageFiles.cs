namespace RelevanceSharp.Vision.Imaging;

/// <summary>Finds the image files named by a list of files and folders.</summary>
public static class ImageFiles
{
    /// <summary>The file extensions taken from folders (lower case, with the dot).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".webp", ".bmp"];

    /// <summary>Whether a file name has one of <see cref="Extensions"/> (case-insensitively).</summary>
    public static bool IsImage(string path) =>
        Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>
    /// The canonical order of an image list, which does not depend on the order of the inputs on the command line, on
    /// the order the file system lists a folder in, or on where the inputs are mounted: by file name, that is by the
    /// path relative to the folder the file was found in or named from (ordinal), then by the whole path.
    /// </summary>
    public static IReadOnlyList<string> SortByName(IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        return files.OrderBy(Path.GetFileName, StringComparer.Ordinal).ThenBy(f => f, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The image files of <paramref name="inputs"/>, in order: a file stands for itself (whatever its extension;
    /// decoding decides whether it is an image); a folder for the image files directly inside it, sorted by name
    /// (ordinal). A file named twice is listed once.
    /// </summary>
    /// <exception cref="ArgumentException">No inputs were given.</exception>
    /// <exception cref="FileNotFoundException">An input does not exist.</exception>
    /// <exception cref="InvalidDataException">A folder holds no image files.</exception>
    public static IReadOnlyList<string> Find(IEnumerable<string> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        bool any = false;
        foreach (string input in inputs)
        {
            any = true;
            if (File.Exists(input))
            {
                Add(input);
            }
            else if (Directory.Exists(input))
            {
                var files = Directory.EnumerateFiles(input)
                    .Where(IsImage)
                    .Where(f => !Path.GetFileName(f).StartsWith('.'))
                    .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal)
                    .ToList();
                if (files.Count == 0)
                {
                    throw new InvalidDataException(
                        $"The folder '{input}' holds no image files ({string.Join(", ", Extensions.Select(e => e[1..]))}).");
                }
                files.ForEach(Add);
            }
            else
            {
                throw new FileNotFoundException($"Input '{input}' does not exist.", input);
            }
        }
        if (!any)
        {
            throw new ArgumentException("No input images were given.");
        }
        return result;

        void Add(string file)
        {
            if (seen.Add(Path.GetFullPath(file)))
            {
                result.Add(file);
            }
        }
    }
}
