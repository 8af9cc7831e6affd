using System.Collections.Concurrent;
using TorchSharp;

namespace RelevanceSharp.Core;

/// <summary>
/// TorchSharp Scalars that stay alive. TorchSharp frees a Scalar's native value in its finalizer and hands libtorch
/// only the pointer, so the temporary an implicit conversion creates (<c>x.clamp_min(0.0)</c>) can be freed by a
/// garbage collection on another thread while libtorch still reads it: the operation then returns NaN or fails on a
/// scalar of no known type. Each value asked for here is created once and kept for the life of the process, so it
/// is never finalized; the solution's analyzer (RSA0001) refuses the implicit conversions everywhere else.
/// <para>
/// The values a program uses are few (rule parameters, stabilizers, literals), so the cache stays small; a value
/// computed from data (a different one per call) should be held in a variable with <c>using</c> instead.
/// </para>
/// </summary>
public static class Scalars
{
    // Keyed by the bits, so that -0.0 and 0.0 (equal as numbers) stay apart.
    private static readonly ConcurrentDictionary<long, Scalar> Doubles = new();
    private static readonly ConcurrentDictionary<long, Scalar> Longs = new();
    private static readonly ConcurrentDictionary<bool, Scalar> Booleans = new();

    /// <summary>
    /// The integer 1: the <c>alpha</c> to pass to <c>add</c> and <c>add_</c>, whose overloads without it make a
    /// temporary of their own (RSA0002).
    /// </summary>
    public static Scalar One => Of(1L);

    /// <summary>A floating-point Scalar (double precision; libtorch casts it to the tensor's type).</summary>
    public static Scalar Of(double value) =>
        Doubles.GetOrAdd(BitConverter.DoubleToInt64Bits(value), bits => BitConverter.Int64BitsToDouble(bits).ToScalar());

    /// <summary>An integer Scalar (keeps integer tensors integer, as <c>x.add(1)</c> does).</summary>
    public static Scalar Of(long value) => Longs.GetOrAdd(value, v => v.ToScalar());

    /// <summary>A boolean Scalar.</summary>
    public static Scalar Of(bool value) => Booleans.GetOrAdd(value, v => v.ToScalar());
}
