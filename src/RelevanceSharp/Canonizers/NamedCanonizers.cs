using RelevanceSharp.Core;
using RelevanceSharp.Platform;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// Merges batch norms into the linear layers before them, given by module names: each entry names the layers whose
/// outputs the batch norm normalizes and the batch norm. Use it where the dataflow cannot be traced.
/// </summary>
public sealed class NamedMergeBatchNorm : ICanonizer
{
    // The CPU guard must be in force before this type runs its first convolution.
    static NamedMergeBatchNorm() => CpuGuard.Ensure();

    /// <summary>Creates the canonizer.</summary>
    public NamedMergeBatchNorm(IEnumerable<(IReadOnlyList<string> Layers, string BatchNorm)> merges)
    {
        Merges = merges.ToArray();
    }

    /// <summary>The (layers, batch norm) entries.</summary>
    public IReadOnlyList<(IReadOnlyList<string> Layers, string BatchNorm)> Merges { get; }

    /// <inheritdoc />
    public string Name => "named_merge_batch_norm";

    /// <inheritdoc />
    public IDisposable Apply(nn.Module<Tensor, Tensor> model)
    {
        Dictionary<string, nn.Module> modules = model.NamedModulesWithRoot().ToDictionary(e => e.Name, e => e.Module);
        nn.Module Find(string name) => modules.TryGetValue(name, out nn.Module? module)
            ? module
            : throw new ArgumentException($"The model has no module named '{name}'.");

        var undo = new UndoStack();
        try
        {
            foreach (var (layerNames, batchNormName) in Merges)
            {
                if (Find(batchNormName) is not BatchNorm batchNorm)
                {
                    throw new ArgumentException($"Module '{batchNormName}' is not a batch norm.");
                }
                var (scale, shift) = BatchNormState.AffineMap(batchNorm, batchNormName);
                foreach (string layerName in layerNames)
                {
                    if (Find(layerName) is not nn.Module<Tensor, Tensor> layer || !LayerMerge.IsFoldable(layer))
                    {
                        throw new ArgumentException($"Module '{layerName}' is not a linear layer or convolution.");
                    }
                    undo.Push(LayerMerge.FoldOutput(layer, scale, shift));
                }
                undo.Push(BatchNormState.MakeIdentity(batchNorm));
            }
        }
        catch
        {
            undo.Dispose();
            throw;
        }
        return undo;
    }
}

/// <summary>
/// Sets a typed switch on every module of type (or interface) <typeparamref name="T"/> in a model (zennit's attribute
/// canonizers), e.g. the explicit head of a DenseNet; removal puts every switch back to its previous value.
/// </summary>
public sealed class SwitchCanonizer<T> : ICanonizer where T : class
{
    // The CPU guard must be in force before this type runs its first convolution.
    static SwitchCanonizer() => CpuGuard.Ensure();

    private readonly Func<T, bool> get;
    private readonly Action<T, bool> set;
    private readonly bool value;

    /// <summary>Creates the canonizer.</summary>
    public SwitchCanonizer(string name, Func<T, bool> get, Action<T, bool> set, bool value = true)
    {
        Name = name;
        this.get = get;
        this.set = set;
        this.value = value;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public IDisposable Apply(nn.Module<Tensor, Tensor> model)
    {
        var undo = new UndoStack();
        foreach (var (_, module) in model.NamedModulesWithRoot())
        {
            if (module is T target)
            {
                bool previous = get(target);
                set(target, value);
                undo.Push(() => set(target, previous));
            }
        }
        return undo;
    }
}
