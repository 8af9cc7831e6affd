using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Vision.Models;

/// <summary>
/// The <c>hash-v1</c> weight filler of the conformance data: a deterministic value in [-1, 1) for every element of a
/// named tensor, computed in unsigned 64-bit arithmetic from the name and the flattened index, so that a whole
/// architecture can be checked against reference logits without a weights file.
/// </summary>
public static class HashV1
{
    private const ulong FnvOffset = 0xcbf29ce484222325UL;
    private const ulong FnvPrime = 0x100000001b3UL;
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private const ulong Mix1 = 0xBF58476D1CE4E5B9UL;
    private const ulong Mix2 = 0x94D049BB133111EBUL;
    private const int ChunkSize = 1 << 20;

    /// <summary>The FNV-1a 64-bit hash of the UTF-8 bytes of <paramref name="name"/>: the seed of its values.</summary>
    public static ulong Seed(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ulong hash = FnvOffset;
        foreach (byte b in Encoding.UTF8.GetBytes(name))
        {
            hash = unchecked((hash ^ b) * FnvPrime);
        }
        return hash;
    }

    /// <summary>The value of flattened element <paramref name="index"/> for a seed: uniform in [-1, 1), exact in float64.</summary>
    public static double Value(ulong seed, long index) => Mix(seed, (ulong)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Mix(ulong seed, ulong index)
    {
        unchecked
        {
            ulong z = seed + (index + 1) * Golden;
            z = (z ^ (z >> 30)) * Mix1;
            z = (z ^ (z >> 27)) * Mix2;
            z ^= z >> 31;
            // 53 random bits scaled to [0, 1), then mapped to [-1, 1); every step is exact in double precision.
            return 2.0 * ((z >> 11) * (1.0 / (1UL << 53))) - 1.0;
        }
    }

    // Asks the JIT for full optimization at once: the full-size checks run this loop over a billion times.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Compute(ulong seed, long start, Span<double> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Mix(seed, (ulong)(start + i));
        }
    }

    /// <summary>The first <paramref name="count"/> values of a name.</summary>
    public static double[] Values(string name, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var values = new double[count];
        Compute(Seed(name), 0, values);
        return values;
    }

    /// <summary>A float64 tensor of the given shape holding the values of <paramref name="name"/> (the reference input is <c>CreateTensor("input", 1, 3, 224, 224)</c>).</summary>
    public static Tensor CreateTensor(string name, params long[] shape)
    {
        Tensor result = empty(shape, dtype: ScalarType.Float64);
        Fill(result, name);
        return result;
    }

    /// <summary>
    /// Sets every parameter and buffer of a model by the filler's rules, by state-dict name: <c>num_batches_tracked</c>
    /// 0, <c>running_mean</c> <c>0.1*v</c>, <c>running_var</c> <c>1 + 0.5*v*v</c>, a bias <c>0.05*v</c>, a weight of
    /// two or more dimensions <c>v * sqrt(6 / fan_in)</c> with <c>fan_in = n / shape[0]</c>, a one-dimensional weight
    /// <c>1 + 0.1*v</c>. An attention's <c>in_proj_weight</c> and <c>in_proj_bias</c> are a weight and a bias, a vision
    /// transformer's <c>class_token</c> and <c>pos_embedding</c> weights. Values are computed in float64 and written in place.
    /// </summary>
    /// <exception cref="NotSupportedException">An entry whose name fits none of the rules.</exception>
    public static void FillStateDict(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = no_grad();
        foreach (var (name, target) in TorchOrder.StateDict(model))
        {
            if (Leaf(name) == "num_batches_tracked")
            {
                target.zero_();
                continue;
            }
            Action<Tensor> rule = EntryRule(name, target.shape);
            WithFloat64(target, values =>
            {
                Fill(values, name);
                rule(values);
            });
        }
    }

    /// <summary>Writes the values of <paramref name="name"/> (uniform in [-1, 1)) into <paramref name="target"/>, in place.</summary>
    public static void Fill(Tensor target, string name)
    {
        ArgumentNullException.ThrowIfNull(target);
        ulong seed = Seed(name);
        WithFloat64(target, values =>
        {
            long count = values.numel();
            long chunks = (count + ChunkSize - 1) / ChunkSize;
            using var scope = NewDisposeScope();
            Tensor flat = values.view(-1);
            // Computed in chunks straight into the tensor's memory (no copies); chunks are independent, so large
            // tensors use all cores. The chunks' views are made here, on the calling thread and without grad, so that
            // the workers make no libtorch calls that create tensors (grad mode is per thread and on by default
            // there); they only write through the views.
            Tensor[] parts = Enumerable.Range(0, (int)chunks)
                .Select(index => flat.narrow(0, index * ChunkSize, Math.Min(ChunkSize, count - index * ChunkSize)))
                .ToArray();
            Parallel.For(0, chunks, index => Compute(seed, index * ChunkSize, MemoryMarshal.Cast<byte, double>(parts[index].bytes)));
        });
    }

    // Runs the action on the target itself when it is a contiguous float64 CPU tensor, else on a float64 copy whose
    // values are then converted into the target once.
    private static void WithFloat64(Tensor target, Action<Tensor> action)
    {
        using var noGrad = no_grad();
        if (target.dtype == ScalarType.Float64 && target.is_contiguous() && target.device_type == DeviceType.CPU)
        {
            action(target);
            return;
        }
        using Tensor staging = empty(target.shape, dtype: ScalarType.Float64);
        action(staging);
        target.copy_(staging);
    }

    // The per-entry maps, as in-place float64 tensor operations in the order the formulas state them.
    private static Action<Tensor> EntryRule(string name, long[] shape)
    {
        switch (Leaf(name))
        {
            case "running_mean":
                return v => v.mul_(Scalars.Of(0.1));
            case "running_var":
                // 1 + 0.5*v*v; scaling by 0.5 is exact, so (v*v)*0.5 equals (0.5*v)*v bit for bit.
                return v => v.mul_(v).mul_(Scalars.Of(0.5)).add_(Scalars.Of(1.0), Scalars.One);
            case "bias" or "in_proj_bias":
                return v => v.mul_(Scalars.Of(0.05));
            case "weight" or "in_proj_weight" or "class_token" or "pos_embedding" when shape.Length >= 2:
                // A vision transformer's class token and position embedding are weights of three dimensions.
                long count = shape.Aggregate(1L, (a, b) => a * b);
                double scale = Math.Sqrt(6.0 / (count / shape[0]));
                return v => v.mul_(Scalars.Of(scale));
            case "weight":
                return v => v.mul_(Scalars.Of(0.1)).add_(Scalars.Of(1.0), Scalars.One);
            default:
                throw new NotSupportedException($"The hash-v1 filler has no rule for the entry '{name}'.");
        }
    }

    private static string Leaf(string name) => name[(name.LastIndexOf('.') + 1)..];
}
