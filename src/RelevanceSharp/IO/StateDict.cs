using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.IO;

/// <summary>Raised when a weights file does not fit a model; lists every problem at once.</summary>
public sealed class StateDictMismatchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StateDictMismatchException(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> shapeMismatches)
        : base(Describe(source, missing, unexpected, shapeMismatches))
    {
        Missing = missing;
        Unexpected = unexpected;
        ShapeMismatches = shapeMismatches;
    }

    /// <summary>Keys the model has and the file lacks.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Keys the file has and the model lacks.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    /// <summary>Keys present in both with different shapes (with both shapes).</summary>
    public IReadOnlyList<string> ShapeMismatches { get; }

    private static string Describe(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> shapes)
    {
        var parts = new List<string>();
        if (missing.Count > 0)
        {
            parts.Add($"{missing.Count} missing key(s): {List(missing)}");
        }
        if (unexpected.Count > 0)
        {
            parts.Add($"{unexpected.Count} unexpected key(s): {List(unexpected)}");
        }
        if (shapes.Count > 0)
        {
            parts.Add($"{shapes.Count} shape mismatch(es): {List(shapes)}");
        }
        return $"The weights in {source} do not fit the model: {string.Join("; ", parts)}.";
    }

    private static string List(IReadOnlyList<string> items) =>
        items.Count <= 12 ? string.Join(", ", items) : string.Join(", ", items.Take(12)) + $", ... ({items.Count - 12} more)";
}

/// <summary>Copies named tensors into a model's parameters and buffers.</summary>
public static class StateDict
{
    /// <summary>
    /// Copies <paramref name="tensors"/> into the model's parameters and buffers, in place (the model keeps its own
    /// tensor objects). With <paramref name="strict"/>, missing keys, unexpected keys and shape mismatches are all
    /// reported in one <see cref="StateDictMismatchException"/> and nothing is copied. Floating-point values of a
    /// different precision are refused unless <paramref name="convertDtype"/> is set.
    /// </summary>
    public static void Load(nn.Module model, IReadOnlyDictionary<string, Tensor> tensors, string source, bool strict = true, bool convertDtype = false)
    {
        Dictionary<string, Tensor> targets = model.state_dict();
        var missing = targets.Keys.Where(k => !tensors.ContainsKey(k)).ToList();
        var unexpected = tensors.Keys.Where(k => !targets.ContainsKey(k)).ToList();
        var shapes = new List<string>();
        var dtypes = new List<string>();
        foreach (var (name, target) in targets)
        {
            if (!tensors.TryGetValue(name, out Tensor? value))
            {
                continue;
            }
            if (!value.shape.SequenceEqual(target.shape))
            {
                shapes.Add($"{name} (file {TensorShapes.Format(value.shape)}, model {TensorShapes.Format(target.shape)})");
            }
            else if (value.dtype != target.dtype && value.is_floating_point() && target.is_floating_point() && !convertDtype)
            {
                dtypes.Add($"{name} ({value.dtype} in the file, {target.dtype} in the model)");
            }
        }
        if (shapes.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
        {
            throw new StateDictMismatchException(source, strict ? missing : Array.Empty<string>(), strict ? unexpected : Array.Empty<string>(), shapes);
        }
        if (dtypes.Count > 0)
        {
            throw new InvalidDataException(
                $"The weights in {source} have another precision than the model: {string.Join(", ", dtypes.Take(5))}" +
                $"{(dtypes.Count > 5 ? ", ..." : "")}. Convert the model, or load with dtype conversion.");
        }
        using var noGrad = no_grad();
        foreach (var (name, target) in targets)
        {
            if (tensors.TryGetValue(name, out Tensor? value))
            {
                // Held in a local until the copy returns: a temporary passed straight into the native call could be
                // finalized by a collection on another thread while libtorch still reads it.
                using Tensor converted = value.to(target.dtype, target.device);
                target.copy_(converted);
            }
        }
    }
}
