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

    /// <summary>Formats a shape as <c>[1, 3, 224, 224]</c>.</summary>
    public static string Format(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
