using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>Shape helpers.</summary>
public static class TensorShapes
{
    /// <summary>
    /// Expands a tensor to <paramref name="shape"/>: a scalar fills the shape; a tensor with fewer dimensions whose
    /// sizes fit gets trailing singleton dimensions; with <paramref name="cutBatch"/>, a tensor whose first dimension
    /// is larger than the target's is cut to the target's first dimension.
    /// </summary>
    public static Tensor Expand(Tensor tensor, long[] shape, bool cutBatch = false)
    {
        if (tensor.dim() == 0)
        {
            return tensor.expand(shape);
        }
        Tensor current = tensor;
        bool Fits(long[] source, int from) =>
            source.Skip(from).Zip(shape.Skip(from), (left, right) => left == 1 || left == right).All(ok => ok);

        if (current.dim() < shape.Length && Fits(current.shape, 0))
        {
            long[] extended = current.shape.Concat(Enumerable.Repeat(1L, shape.Length - (int)current.dim())).ToArray();
            current = current.reshape(extended);
        }
        if (current.dim() == shape.Length)
        {
            if (Fits(current.shape, 0))
            {
                return current.expand(shape);
            }
            if (cutBatch && Fits(current.shape, 1) && current.shape[0] > shape[0])
            {
                return current.narrow(0, 0, shape[0]).expand(shape);
            }
        }
        throw new ArgumentException(
            $"Cannot expand a tensor of shape [{string.Join(", ", tensor.shape)}] to [{string.Join(", ", shape)}].");
    }

    /// <summary>
    /// The shape <c>a.matmul(b)</c> has, by <c>matmul</c>'s rules (vectors are promoted and the promoted dimension
    /// dropped, leading dimensions broadcast). libtorch ends the process on a mismatch in <c>matmul</c> instead of
    /// throwing, so call this first.
    /// </summary>
    /// <exception cref="ArgumentException">The shapes do not fit; the message names <paramref name="what"/> and both shapes.</exception>
    public static long[] MatMul(long[] a, long[] b, string what)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentException Mismatch(string why) =>
            new($"{what}: cannot multiply matrices of shapes {Format(a)} and {Format(b)}: {why}.");
        if (a.Length == 0 || b.Length == 0)
        {
            throw Mismatch("both factors need at least one dimension");
        }
        long inner = a[^1];
        long other = b.Length == 1 ? b[0] : b[^2];
        if (inner != other)
        {
            throw Mismatch($"the first factor's last dimension ({inner}) differs from the second factor's " +
                $"{(b.Length == 1 ? "length" : "second-to-last dimension")} ({other})");
        }
        long[] rowsA = a.Length == 1 ? [] : [a[^2]];
        long[] colsB = b.Length == 1 ? [] : [b[^1]];
        long[] batchA = a.Length > 2 ? a[..^2] : [];
        long[] batchB = b.Length > 2 ? b[..^2] : [];
        int dims = Math.Max(batchA.Length, batchB.Length);
        var batch = new long[dims];
        for (int i = 0; i < dims; i++)
        {
            long left = i < dims - batchA.Length ? 1 : batchA[i - (dims - batchA.Length)];
            long right = i < dims - batchB.Length ? 1 : batchB[i - (dims - batchB.Length)];
            if (left != right && left != 1 && right != 1)
            {
                throw Mismatch($"the leading dimensions {Format(batchA)} and {Format(batchB)} do not broadcast");
            }
            batch[i] = left == 1 ? right : left;
        }
        return [.. batch, .. rowsA, .. colsB];
    }

    /// <summary>Formats a shape as <c>[1, 3, 224, 224]</c>.</summary>
    public static string Format(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
