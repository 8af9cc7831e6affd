namespace RelevanceSharp.Evaluation;

/// <summary>
/// Derives independent, reproducible seeds from a user's seed and the position of a piece of work (an image's
/// index, a random order's number, a layer's number), so that results do not depend on how work is batched.
/// </summary>
internal static class Seeds
{
    /// <summary>A seed for the piece of work at <paramref name="parts"/> under <paramref name="seed"/>.</summary>
    public static ulong Derive(long seed, params long[] parts)
    {
        ulong state = SplitMix64.Mix(unchecked((ulong)seed));
        foreach (long part in parts)
        {
            state = SplitMix64.Mix(state ^ unchecked((ulong)part) * 0x9E3779B97F4A7C15UL);
        }
        return state;
    }

    /// <summary>A hash of bytes that is the same in every process and on every machine (unlike string.GetHashCode).</summary>
    public static long Hash(ReadOnlySpan<byte> bytes)
    {
        ulong hash = (ulong)bytes.Length;
        foreach (byte value in bytes)
        {
            hash = SplitMix64.Mix(hash ^ value);
        }
        return unchecked((long)hash);
    }

    /// <summary>The <see cref="Hash(ReadOnlySpan{byte})"/> of a text's UTF-8 bytes.</summary>
    public static long Hash(string text) => Hash(System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>A random permutation of <c>0..count-1</c> (Fisher-Yates driven by SplitMix64).</summary>
    public static int[] Permutation(int count, ulong seed)
    {
        var result = new int[count];
        for (int i = 0; i < count; i++)
        {
            result[i] = i;
        }
        var random = new SplitMix64(seed);
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.NextBelow(i + 1);
            (result[i], result[j]) = (result[j], result[i]);
        }
        return result;
    }
}

/// <summary>
/// The SplitMix64 generator: the state advances by the golden-ratio constant and each output is the state put
/// through a 64-bit finalizer. Small, fast and fully determined by its seed on every platform.
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    /// <summary>A number in <c>0..bound-1</c>: multiply-shift maps the 64-bit draw onto the range without a modulo's bias.</summary>
    public int NextBelow(int bound) => (int)(((UInt128)Next() * (ulong)bound) >> 64);

    // The SplitMix64 finalizer: a bijection of 64-bit values that scrambles every input bit into every output bit.
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
