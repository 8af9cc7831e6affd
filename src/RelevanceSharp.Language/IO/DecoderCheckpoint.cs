using System.Text.Json;
using RelevanceSharp.IO;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Language.IO;

/// <summary>
/// Loads LLaMA-family decoders from Hugging Face folders: <c>config.json</c>, and the weights from
/// <c>model.safetensors</c> or from the shards that <c>model.safetensors.index.json</c> lists. Everything read is
/// checked before it is used: shard names stay inside the folder (no absolute paths, no <c>..</c>, no links out), every
/// file goes through the safetensors reader's size and format checks, the weights must hold exactly the parameters the
/// configuration describes (Hugging Face's names, the configured shapes, floating-point types), and float16 or bfloat16
/// weights are converted to the model's type on load. Every problem is one <see cref="InvalidDataException"/> (or
/// <see cref="FileNotFoundException"/>) that names the file.
/// </summary>
public static class DecoderCheckpoint
{
    static DecoderCheckpoint() => CpuGuard.Ensure();

    /// <summary>The configuration file of a Hugging Face folder.</summary>
    public const string ConfigFile = "config.json";

    /// <summary>The single weights file of a Hugging Face folder.</summary>
    public const string WeightsFile = "model.safetensors";

    /// <summary>The index of a sharded checkpoint.</summary>
    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>
    /// The largest weights file read, per file: 64 GiB. Files are read one tensor at a time, and the configuration must
    /// describe no more parameters than the files can hold, so memory stays bounded by the model itself.
    /// </summary>
    public static long MaxFileBytes { get; set; } = 64L << 30;

    /// <summary>Reads the configuration of a Hugging Face folder.</summary>
    public static DecoderConfig ReadConfig(string folder)
    {
        string root = FolderFiles.Root(folder);
        return DecoderConfig.Load(FolderFiles.Inside(root, ConfigFile, folder));
    }

    /// <summary>Builds the decoder a Hugging Face folder describes and loads its weights.</summary>
    /// <param name="folder">The folder with <c>config.json</c> and the safetensors weights.</param>
    /// <param name="dtype">The type to compute in: float32 or float64.</param>
    public static DecoderModel Load(string folder, ScalarType dtype = ScalarType.Float32)
    {
        DecoderConfig config = ReadConfig(folder);
        IReadOnlyList<WeightFile> files = WeightFiles(folder);
        CheckSizes(config, files, folder);
        var model = new DecoderModel(config, dtype);
        try
        {
            LoadWeights(model, files);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads the weights of one safetensors file into a model (all of them, strictly).</summary>
    public static void LoadWeights(DecoderModel model, string safetensorsFile) =>
        LoadWeights(model, new[] { new WeightFile(safetensorsFile, null) });

    /// <summary>One weights file, with the keys an index assigns to it (or <c>null</c> without an index).</summary>
    public sealed record WeightFile(string Path, IReadOnlySet<string>? IndexedKeys);

    /// <summary>
    /// The weights files of a Hugging Face folder: the shards its index names (each checked to lie inside the folder
    /// and to exist), or <c>model.safetensors</c>.
    /// </summary>
    public static IReadOnlyList<WeightFile> WeightFiles(string folder)
    {
        string root = FolderFiles.Root(folder);
        string index = FolderFiles.Inside(root, IndexFile, folder);
        if (File.Exists(index))
        {
            return ReadIndex(root, index);
        }
        string single = FolderFiles.Inside(root, WeightsFile, folder);
        if (!File.Exists(single))
        {
            throw new FileNotFoundException(
                $"{folder}: no {WeightsFile} and no {IndexFile}; only safetensors weights are read (convert pytorch_model.bin first).", single);
        }
        return new[] { new WeightFile(single, null) };
    }

    private static IReadOnlyList<WeightFile> ReadIndex(string root, string index)
    {
        using JsonDocument document = JsonInput.Load(index, "shard index");
        JsonElement json = document.RootElement;
        if (json.ValueKind != JsonValueKind.Object || !json.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{index}: not a shard index: it has no weight_map object.");
        }
        var shards = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (JsonProperty entry in map.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                throw new InvalidDataException($"{index}: the shard of '{entry.Name}' is {entry.Value.GetRawText()}, not a file name.");
            }
            string path = FolderFiles.Inside(root, entry.Value.GetString()!, index);
            if (!shards.TryGetValue(path, out HashSet<string>? keys))
            {
                shards[path] = keys = new HashSet<string>(StringComparer.Ordinal);
            }
            if (!keys.Add(entry.Name))
            {
                throw new InvalidDataException($"{index}: '{entry.Name}' is listed twice.");
            }
        }
        if (shards.Count == 0)
        {
            throw new InvalidDataException($"{index}: the weight_map lists no tensors.");
        }
        foreach (string shard in shards.Keys.Where(s => !File.Exists(s)))
        {
            throw new FileNotFoundException($"{index}: the shard '{Path.GetFileName(shard)}' it lists is missing ({shard}).", shard);
        }
        return shards.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new WeightFile(s.Key, s.Value)).ToList();
    }

    // A configuration whose parameters cannot fit in the files (at two bytes each, the smallest type read) is refused
    // before the model is built, so that a damaged config.json cannot make it allocate without bound.
    private static void CheckSizes(DecoderConfig config, IReadOnlyList<WeightFile> files, string folder)
    {
        long bytes = 0;
        foreach (WeightFile file in files)
        {
            bytes = checked(bytes + InputFile.Check(file.Path, "weights file", MaxFileBytes));
        }
        long parameters = config.ParameterCount;
        if (parameters > bytes / 2)
        {
            throw new InvalidDataException(
                $"{folder}: {ConfigFile} describes {parameters:N0} parameters, but the weights files hold only {bytes:N0} bytes, " +
                "too few for them at two bytes each (a shard missing from the index, or a config.json of another model).");
        }
    }

    /// <summary>
    /// Copies the weights of <paramref name="files"/> into <paramref name="model"/>: every parameter the model expects
    /// exactly once, with its shape and a floating-point type (converted to the model's), nothing else (besides the
    /// derived <c>rotary_emb.inv_freq</c> buffers of older checkpoints and an <c>lm_head.weight</c> that tied word
    /// embeddings replace), and with an index, every tensor in the shard the index names.
    /// </summary>
    public static void LoadWeights(DecoderModel model, IReadOnlyList<WeightFile> files)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(files);
        IReadOnlyDictionary<string, long[]> expected = model.ExpectedWeights();
        Dictionary<string, TorchSharp.Modules.Parameter> parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var loaded = new Dictionary<string, string>(StringComparer.Ordinal);
        var unexpected = new List<string>();
        var shapes = new List<string>();
        string source = files.Count == 1 ? files[0].Path : $"the {files.Count} shards of {Path.GetDirectoryName(files[0].Path)}";
        foreach (WeightFile file in files)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            // One tensor at a time: a shard is never held whole, so files beyond 2 GiB load too.
            SafeTensors.ReadEach(file.Path, (key, value) =>
            {
                using (value)
                {
                    seen.Add(key);
                    if (file.IndexedKeys is { } indexed && !indexed.Contains(key))
                    {
                        throw new InvalidDataException($"{file.Path}: holds '{key}', which the index assigns to another shard or does not list.");
                    }
                    if (loaded.TryGetValue(key, out string? earlier))
                    {
                        throw new InvalidDataException($"{file.Path}: '{key}' is also in {earlier}.");
                    }
                    if (!expected.TryGetValue(key, out long[]? shape))
                    {
                        if (!Ignorable(key, model.Config))
                        {
                            unexpected.Add(key);
                        }
                        return;
                    }
                    if (!value.is_floating_point())
                    {
                        throw new InvalidDataException($"{file.Path}: '{key}' holds {value.dtype} values; weights must be float16, bfloat16, float32 or float64.");
                    }
                    if (!value.shape.SequenceEqual(shape))
                    {
                        shapes.Add($"{key} [{string.Join(", ", value.shape)}] where the configuration needs [{string.Join(", ", shape)}]");
                        return;
                    }
                    using (no_grad())
                    {
                        parameters[key].copy_(value);
                    }
                    loaded[key] = file.Path;
                }
            }, MaxFileBytes);
            foreach (string key in file.IndexedKeys ?? (IEnumerable<string>)Array.Empty<string>())
            {
                if (!seen.Contains(key))
                {
                    throw new InvalidDataException($"{file.Path}: the index places '{key}' in this shard, but it is not there.");
                }
            }
        }
        var missing = expected.Keys.Where(k => !loaded.ContainsKey(k) && !shapes.Any(s => s.StartsWith(k + " ", StringComparison.Ordinal))).ToList();
        if (missing.Count > 0 || unexpected.Count > 0 || shapes.Count > 0)
        {
            throw new InvalidDataException(new StateDictMismatchException(source, missing, unexpected, shapes).Message);
        }
    }

    private static bool Ignorable(string key, DecoderConfig config) =>
        key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)
        || (config.TieWordEmbeddings && key == "lm_head.weight");
}
