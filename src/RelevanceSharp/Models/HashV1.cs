using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Models;

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
    public static double Value(ulong seed, long index)
    {
        unchecked
        {
            ulong z = seed + ((ulong)index + 1) * Golden;
            z = (z ^ (z >> 30)) * Mix1;
            z = (z ^ (z >> 27)) * Mix2;
            z ^= z >> 31;
            // 53 random bits scaled to [0, 1), then mapped to [-1, 1); every step is exact in double precision.
            return 2.0 * ((z >> 11) * (1.0 / (1UL << 53))) - 1.0;
        }
    }

    /// <summary>The first <paramref name="count"/> values of a name.</summary>
    public static double[] Values(string name, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ulong seed = Seed(name);
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = Value(seed, i);
        }
        return values;
    }

    /// <summary>A float64 tensor of the given shape holding the values of <paramref name="name"/> (the reference input is <c>CreateTensor("input", 1, 3, 224, 224)</c>).</summary>
    public static Tensor CreateTensor(string name, params long[] shape)
    {
        Tensor result = empty(shape, dtype: ScalarType.Float64);
        Fill(result, name, v => v);
        return result;
    }

    /// <summary>
    /// Sets every parameter and buffer of a model by the filler's rules, by state-dict name: <c>num_batches_tracked</c>
    /// 0, <c>running_mean</c> <c>0.1*v</c>, <c>running_var</c> <c>1 + 0.5*v*v</c>, a bias <c>0.05*v</c>, a weight of
    /// two or more dimensions <c>v * sqrt(6 / fan_in)</c> with <c>fan_in = n / shape[0]</c>, a one-dimensional weight
    /// <c>1 + 0.1*v</c>. Values are computed in float64 and written in place.
    /// </summary>
    /// <exception cref="NotSupportedException">An entry whose name fits none of the rules.</exception>
    public static void FillStateDict(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = no_grad();
        foreach (var (name, target) in TorchOrder.StateDict(model))
        {
            Fill(target, name, EntryRule(name, target.shape));
        }
    }

    /// <summary>Writes <c>map(v)</c> for the values of <paramref name="name"/> into <paramref name="target"/>, in place.</summary>
    public static void Fill(Tensor target, string name, Func<double, double> map)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(map);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long count = target.numel();
        if (count == 0)
        {
            return;
        }
        ulong seed = Seed(name);
        // The target is written through a flat view in chunks, so a large weight needs no second full-size copy.
        Tensor flat = target.is_contiguous() ? target.view(-1) : throw new ArgumentException($"Cannot fill the non-contiguous tensor '{name}'.", nameof(target));
        var chunk = new double[Math.Min(count, ChunkSize)];
        for (long start = 0; start < count; start += chunk.Length)
        {
            int length = (int)Math.Min(chunk.Length, count - start);
            for (int i = 0; i < length; i++)
            {
                chunk[i] = map(Value(seed, start + i));
            }
            using Tensor source = tensor(chunk, dtype: ScalarType.Float64);
            flat.narrow(0, start, length).copy_(length == chunk.Length ? source : source.narrow(0, 0, length));
        }
    }

    private static Func<double, double> EntryRule(string name, long[] shape)
    {
        string leaf = name[(name.LastIndexOf('.') + 1)..];
        switch (leaf)
        {
            case "num_batches_tracked":
                return _ => 0;
            case "running_mean":
                return v => 0.1 * v;
            case "running_var":
                return v => 1 + 0.5 * v * v;
            case "bias":
                return v => 0.05 * v;
            case "weight" when shape.Length >= 2:
                long count = shape.Aggregate(1L, (a, b) => a * b);
                double scale = Math.Sqrt(6.0 / (count / shape[0]));
                return v => v * scale;
            case "weight":
                return v => 1 + 0.1 * v;
            default:
                throw new NotSupportedException($"The hash-v1 filler has no rule for the entry '{name}'.");
        }
    }
}
