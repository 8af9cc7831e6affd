using RelevanceSharp.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

/// <summary>
/// Every parameter and buffer of a model: the object, its native handle, its exact bits and its requires_grad
/// flag, to check later that an attribution left the model exactly as it was.
/// </summary>
internal sealed class ModelSnapshot
{
    private readonly List<(string Name, Tensor Tensor, IntPtr Handle, long[] Bits, bool RequiresGrad)> entries = new();

    private ModelSnapshot()
    {
    }

    public static ModelSnapshot Take(nn.Module model)
    {
        var snapshot = new ModelSnapshot();
        foreach (var (name, tensor) in model.NamedTensors())
        {
            snapshot.entries.Add((name, tensor, tensor.Handle, Bits(tensor), tensor.requires_grad));
        }
        Assert.NotEmpty(snapshot.entries);
        return snapshot;
    }

    /// <summary>The tensor recorded under a state-dict name.</summary>
    public Tensor this[string name] => entries.Single(e => e.Name == name).Tensor;

    /// <summary>Same names, same objects, same handles, same bits, same flags; no hooks left on any module.</summary>
    public void AssertUnchanged(nn.Module model, string when)
    {
        var now = model.NamedTensors().ToList();
        Assert.Equal(entries.Select(e => e.Name), now.Select(e => e.Name));
        for (int k = 0; k < entries.Count; k++)
        {
            var (name, tensor, handle, bits, requiresGrad) = entries[k];
            Tensor current = now[k].Tensor;
            Assert.True(ReferenceEquals(tensor, current), $"{when}: {name} is a different object.");
            Assert.False(current.IsInvalid, $"{when}: {name} was disposed.");
            Assert.True(handle == current.Handle, $"{when}: {name} has a different native tensor.");
            Assert.True(bits.SequenceEqual(Bits(current)), $"{when}: the values of {name} changed.");
            Assert.True(current.Equals(tensor.detach().clone()), $"{when}: {name} is not equal to itself.");
            Assert.True(requiresGrad == current.requires_grad, $"{when}: requires_grad of {name} changed.");
        }
        AssertNoHooks(model, when);
    }

    /// <summary>No RelevanceSharp interceptor is left on the model or any of its modules.</summary>
    public static void AssertNoHooks(nn.Module model, string when)
    {
        foreach (var (name, module) in model.NamedModulesWithRoot())
        {
            Assert.True(ModuleHooks.Count(module) == 0, $"{when}: module '{name}' still has {ModuleHooks.Count(module)} hook(s).");
        }
    }

    /// <summary>The exact bit patterns of a tensor's values.</summary>
    public static long[] Bits(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        Tensor cpu = tensor.detach().cpu().contiguous();
        return cpu.dtype switch
        {
            ScalarType.Float64 => cpu.data<double>().ToArray().Select(BitConverter.DoubleToInt64Bits).ToArray(),
            ScalarType.Float32 => cpu.data<float>().ToArray().Select(v => (long)BitConverter.SingleToInt32Bits(v)).ToArray(),
            ScalarType.Int64 => cpu.data<long>().ToArray(),
            _ => throw new NotSupportedException($"No bit comparison for {cpu.dtype}."),
        };
    }
}
