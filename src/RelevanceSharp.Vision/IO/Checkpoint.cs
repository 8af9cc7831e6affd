using System.Collections;
using System.Text.RegularExpressions;
using RelevanceSharp.IO;
using RelevanceSharp.Platform;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace RelevanceSharp.Vision.IO;

/// <summary>The file format of a checkpoint.</summary>
public enum CheckpointFormat
{
    /// <summary>PyTorch's <c>torch.save</c> zip format (<c>.pth</c>, <c>.pt</c>).</summary>
    PyTorch,

    /// <summary>The safetensors format.</summary>
    SafeTensors,
}

/// <summary>
/// The tensors of a checkpoint file by state-dict name, after unwrapping (see <see cref="Checkpoint.Read"/>).
/// Owns the tensors: disposing it releases them.
/// </summary>
public sealed class CheckpointContents : IDisposable
{
    internal CheckpointContents(string source, CheckpointFormat format, Dictionary<string, Tensor> tensors, IReadOnlyList<string> notes)
    {
        Source = source;
        Format = format;
        Tensors = tensors;
        Notes = notes;
    }

    /// <summary>The file.</summary>
    public string Source { get; }

    /// <summary>The file format.</summary>
    public CheckpointFormat Format { get; }

    /// <summary>The tensors by name.</summary>
    public Dictionary<string, Tensor> Tensors { get; }

    /// <summary>What was done to the file's contents to get a plain state dict (unwrapping, prefixes removed), one sentence each.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        foreach (Tensor tensor in Tensors.Values)
        {
            tensor.Dispose();
        }
        Tensors.Clear();
    }
}

/// <summary>What loading a checkpoint into a model did.</summary>
/// <param name="Source">The file.</param>
/// <param name="Format">The file format.</param>
/// <param name="Count">Number of tensors copied into the model.</param>
/// <param name="Notes">What was done to fit the file to the model (unwrapping, prefixes removed, legacy names renamed), one sentence each.</param>
public sealed record CheckpointReport(string Source, CheckpointFormat Format, int Count, IReadOnlyList<string> Notes);

/// <summary>
/// Loads weights from PyTorch checkpoints (<c>torch.save</c> of a state dict, zip format) and safetensors files into
/// models, with the checks of <see cref="StateDict.Load"/>.
/// </summary>
public static partial class Checkpoint
{
    // The CPU guard must be in force before this type runs its first convolution.
    static Checkpoint() => CpuGuard.Ensure();

    private const string DataParallelPrefix = "module.";
    private static readonly string[] WrapperKeys = { "state_dict", "model" };

    /// <summary>
    /// Loads a checkpoint into a model, in place (the model keeps its tensor objects). Recognizes state dicts wrapped
    /// in a dictionary under <c>state_dict</c> or <c>model</c> and keys saved from <c>DataParallel</c> (all starting
    /// with <c>module.</c>), and renames torchvision's legacy DenseNet keys (<c>denselayer1.norm.1.weight</c> for
    /// <c>denselayer1.norm1.weight</c>) and vision-transformer MLP keys (<c>mlp.linear_1</c> for <c>mlp.0</c>) where the
    /// model has the new name. Strict by default: missing keys, unexpected
    /// keys and shape mismatches are reported together, by name, in one <see cref="StateDictMismatchException"/>.
    /// </summary>
    /// <param name="model">The model to fill.</param>
    /// <param name="path">A <c>.pth</c>/<c>.pt</c> file (zip format) or a <c>.safetensors</c> file; the format is recognized by content.</param>
    /// <param name="strict">Whether missing and unexpected keys are errors (shape mismatches always are).</param>
    /// <param name="convertDtype">Whether floating-point weights of another precision (e.g. float32 into a float64 model) are converted instead of refused.</param>
    /// <param name="allowNonFinite">
    /// Whether weights holding NaN or infinite values are loaded. By default they are refused, naming every such
    /// tensor: one NaN weight makes every attribution NaN.
    /// </param>
    /// <returns>What was loaded and what was done to fit the file to the model.</returns>
    public static CheckpointReport Load(nn.Module model, string path, bool strict = true, bool convertDtype = false, bool allowNonFinite = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        using CheckpointContents contents = Read(path);
        if (!allowNonFinite)
        {
            RefuseNonFinite(contents.Tensors, path);
        }
        var notes = contents.Notes.ToList();
        var modelKeys = new HashSet<string>(model.state_dict().Keys, StringComparer.Ordinal);
        int renamed = RenameLegacyDenseNetKeys(contents.Tensors, modelKeys);
        if (renamed > 0)
        {
            notes.Add($"Renamed {renamed} legacy DenseNet key(s) (e.g. 'denselayer1.norm.1.weight' to 'denselayer1.norm1.weight').");
        }
        renamed = RenameLegacyVisionTransformerKeys(contents.Tensors, modelKeys);
        if (renamed > 0)
        {
            notes.Add($"Renamed {renamed} legacy vision-transformer key(s) (e.g. 'mlp.linear_1.weight' to 'mlp.0.weight').");
        }
        StateDict.Load(model, contents.Tensors, path, strict, convertDtype);
        int count = contents.Tensors.Keys.Count(modelKeys.Contains);
        return new CheckpointReport(path, contents.Format, count, notes);
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming each floating-point tensor that holds NaN or infinite values.
    /// </summary>
    public static void RefuseNonFinite(IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var bad = new List<string>();
        foreach (var (name, tensor) in tensors)
        {
            if (!tensor.is_floating_point())
            {
                continue;
            }
            using var scope = NewDisposeScope();
            long nan = isnan(tensor).sum().item<long>();
            long inf = isinf(tensor).sum().item<long>();
            if (nan + inf > 0)
            {
                bad.Add($"'{name}' ({nan} NaN, {inf} infinite)");
            }
        }
        if (bad.Count > 0)
        {
            throw new InvalidDataException(
                $"{source}: {bad.Count} tensor{(bad.Count == 1 ? " holds" : "s hold")} NaN or infinite values, which would make every " +
                $"attribution NaN: {string.Join(", ", bad.Take(5))}{(bad.Count > 5 ? $" and {bad.Count - 5} more" : "")} " +
                "(--allow-non-finite-weights loads them anyway).");
        }
    }

    /// <summary>
    /// Reads the state dict of a checkpoint file. A PyTorch file must hold a dictionary of tensors, or a dictionary
    /// without tensors of its own that holds one under <c>state_dict</c> or <c>model</c> (as training scripts save
    /// it, next to <c>epoch</c>, <c>optimizer</c>, ...); anything else is refused with a message that says what the
    /// file holds. When every key starts with <c>module.</c> (saved from <c>DataParallel</c>) the prefix is removed.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a checkpoint, or holds no state dict.</exception>
    public static CheckpointContents Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        // Regular files only, checked before anything opens them (a pipe would block, a device never end).
        long length = InputFile.Check(path, "checkpoint");
        var notes = new List<string>();
        CheckpointFormat format = DetectFormat(path, length);
        Dictionary<string, Tensor> tensors = format == CheckpointFormat.SafeTensors
            ? SafeTensors.Load(path)
            : ReadPyTorch(path, length, notes);
        StripDataParallelPrefix(tensors, notes);
        return new CheckpointContents(path, format, tensors, notes);
    }

    /// <summary>
    /// Renames torchvision's legacy DenseNet keys in place: <c>denselayerN.norm.1.</c> to <c>denselayerN.norm1.</c>,
    /// likewise for <c>relu</c> and <c>conv</c>. A key is renamed only when it has the legacy pattern and
    /// <paramref name="modelKeys"/> (if given) lacks it but has the new name.
    /// </summary>
    /// <returns>The number of keys renamed.</returns>
    public static int RenameLegacyDenseNetKeys(IDictionary<string, Tensor> tensors, IReadOnlySet<string>? modelKeys = null) =>
        RenameKeys(tensors, modelKeys, key => LegacyDenseLayerKey().Replace(key, "$1.$2$3."));

    /// <summary>
    /// Renames torchvision's legacy vision-transformer MLP keys in place (torchvision before its MLP block became an
    /// <c>MLP</c>): <c>encoder_layer_N.mlp.linear_1.</c> to <c>encoder_layer_N.mlp.0.</c> and <c>mlp.linear_2.</c> to
    /// <c>mlp.3.</c>, under the same conditions as <see cref="RenameLegacyDenseNetKeys"/>.
    /// </summary>
    /// <returns>The number of keys renamed.</returns>
    public static int RenameLegacyVisionTransformerKeys(IDictionary<string, Tensor> tensors, IReadOnlySet<string>? modelKeys = null) =>
        RenameKeys(tensors, modelKeys, key => LegacyVisionTransformerMlpKey().Replace(key, m => $"{m.Groups[1].Value}.{(m.Groups[2].Value == "1" ? "0" : "3")}."));

    // Renames every key that the function changes, unless the new name is taken or the model (if given) has the old
    // name or lacks the new one.
    private static int RenameKeys(IDictionary<string, Tensor> tensors, IReadOnlySet<string>? modelKeys, Func<string, string> rename)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var renames = new List<(string From, string To)>();
        foreach (string key in tensors.Keys)
        {
            string renamed = rename(key);
            if (renamed != key && !tensors.ContainsKey(renamed)
                && (modelKeys is null || (!modelKeys.Contains(key) && modelKeys.Contains(renamed))))
            {
                renames.Add((key, renamed));
            }
        }
        foreach (var (from, to) in renames)
        {
            tensors[to] = tensors[from];
            tensors.Remove(from);
        }
        return renames.Count;
    }

    [GeneratedRegex(@"(denselayer\d+)\.(norm|relu|conv)\.(\d+)\.", RegexOptions.CultureInvariant)]
    private static partial Regex LegacyDenseLayerKey();

    [GeneratedRegex(@"(encoder_layer_\d+\.mlp)\.linear_([12])\.", RegexOptions.CultureInvariant)]
    private static partial Regex LegacyVisionTransformerMlpKey();

    private static CheckpointFormat DetectFormat(string path, long length)
    {
        var head = new byte[9];
        int read;
        using (FileStream stream = File.OpenRead(path))
        {
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        if (read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4)
        {
            return CheckpointFormat.PyTorch;
        }
        if (read >= 2 && head[0] == 0x80 && head[1] <= 5)
        {
            throw new InvalidDataException(
                $"{path} was written in PyTorch's legacy serialization format (before version 1.6), which cannot be read here. " +
                "Load it in Python and save it again with torch.save(state_dict, path).");
        }
        if (read == 9 && head[8] == (byte)'{' && BitConverter.ToUInt64(head) + 8 <= (ulong)length)
        {
            return CheckpointFormat.SafeTensors;
        }
        throw new InvalidDataException($"{path} is neither a PyTorch checkpoint (zip format) nor a safetensors file.");
    }

    private static Dictionary<string, Tensor> ReadPyTorch(string path, long length, List<string> notes)
    {
        PthArchive.Check(path, length);
        Hashtable top;
        try
        {
            top = PyTorchUnpickler.UnpickleStateDict(path);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: not a readable PyTorch checkpoint: {UnpicklerProblem(ex)}.", ex);
        }
        IDictionary stateDict = Unwrap(top, path, notes);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in stateDict)
        {
            tensors[Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture) ?? ""] =
                ((Tensor)entry.Value!).DetachFromDisposeScope();
        }
        DisposeOthers(top, stateDict);
        return tensors;
    }

    // The unpickler's complaint in the reader's terms: it builds tensors and containers only and runs nothing, so an
    // object of any other class is refused, whatever the file asks for.
    private static string UnpicklerProblem(Exception ex)
    {
        string message = ex.Message.Split('\n')[0].Trim();
        if (message.Contains("IObjectConstructor", StringComparison.Ordinal) || message.Contains("construction of ClassDict", StringComparison.Ordinal))
        {
            Match match = PickledClass().Match(message);
            string name = match.Success ? $"'{match.Groups[1].Value}'" : "of a class";
            return $"it asks to build a Python object {name}, which is neither a tensor nor a container of tensors " +
                "(only state dicts are read, and nothing in the file is run)";
        }
        return message.TrimEnd('.');
    }

    [GeneratedRegex(@"\(for ([^)]+)\)")]
    private static partial Regex PickledClass();

    private static IDictionary Unwrap(IDictionary top, string path, List<string> notes)
    {
        List<string> nonTensors = NonTensorKeys(top);
        if (nonTensors.Count == 0)
        {
            if (top.Count == 0)
            {
                throw new InvalidDataException($"{path} holds an empty dictionary; expected a state dict.");
            }
            return top;
        }
        if (nonTensors.Count < top.Count)
        {
            throw new InvalidDataException(
                $"{path} mixes {top.Count - nonTensors.Count} tensor(s) with other entries ({Quote(nonTensors)}); expected a state dict, which holds only tensors.");
        }
        foreach (string wrapper in WrapperKeys)
        {
            if (!top.Contains(wrapper))
            {
                continue;
            }
            if (top[wrapper] is IDictionary inner && inner.Count > 0 && NonTensorKeys(inner).Count == 0)
            {
                var others = nonTensors.Where(k => k != wrapper).ToList();
                notes.Add($"Took the state dict stored under '{wrapper}'" + (others.Count > 0 ? $" (the file also holds {Quote(others)})." : "."));
                return inner;
            }
            throw new InvalidDataException(
                $"{path} holds '{wrapper}', but it is {Describe(top[wrapper])}, not a state dict of tensors" +
                " (a whole pickled model cannot be read: save model.state_dict() instead).");
        }
        throw new InvalidDataException(
            $"{path} holds keys {Quote(nonTensors)}; expected a state dict (names mapped to tensors), or one stored under 'state_dict' or 'model'.");
    }

    private static void StripDataParallelPrefix(Dictionary<string, Tensor> tensors, List<string> notes)
    {
        if (tensors.Count == 0 || !tensors.Keys.All(k => k.StartsWith(DataParallelPrefix, StringComparison.Ordinal)))
        {
            return;
        }
        var stripped = tensors.ToList();
        tensors.Clear();
        foreach (var (key, value) in stripped)
        {
            tensors[key[DataParallelPrefix.Length..]] = value;
        }
        notes.Add($"Removed the prefix '{DataParallelPrefix}' from all {stripped.Count} keys (a model saved from DataParallel).");
    }

    private static List<string> NonTensorKeys(IDictionary dictionary) =>
        dictionary.Cast<DictionaryEntry>()
            .Where(e => e.Value is not Tensor)
            .Select(e => Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture) ?? "")
            .OrderBy(k => k, StringComparer.Ordinal)
            .ToList();

    private static string Quote(IReadOnlyList<string> keys) =>
        string.Join(", ", keys.Take(8).Select(k => $"'{k}'")) + (keys.Count > 8 ? $", ... ({keys.Count - 8} more)" : "");

    private static string Describe(object? value) => value switch
    {
        null => "empty (None)",
        IDictionary d when d.Count == 0 => "an empty dictionary",
        IDictionary d => $"a dictionary with non-tensor entries ({Quote(NonTensorKeys(d))})",
        _ => $"a {value.GetType().Name}",
    };

    // Tensors elsewhere in the file (optimizer state, EMA weights, ...) are not used; release them now.
    private static void DisposeOthers(object? node, IDictionary keep)
    {
        switch (node)
        {
            case Tensor tensor:
                tensor.Dispose();
                break;
            case IDictionary dictionary when !ReferenceEquals(dictionary, keep):
                foreach (DictionaryEntry entry in dictionary)
                {
                    DisposeOthers(entry.Value, keep);
                }
                break;
            case IList list:
                foreach (object? item in list)
                {
                    DisposeOthers(item, keep);
                }
                break;
        }
    }
}
