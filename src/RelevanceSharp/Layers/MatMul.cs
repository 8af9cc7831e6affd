using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Layers;

/// <summary>
/// The matrix product of two computed tensors, <c>scale * (a @ b)</c>, with <c>matmul</c>'s broadcasting over leading
/// dimensions: a product of two inputs as a module, so that composites can give it a rule. An attention computes its
/// scores with one (<c>q @ k^T</c>, scaled by <c>1/sqrt(head_dim)</c>) and mixes the values with another (attention
/// weights <c>@ v</c>, gate 0). The scale sits inside the module so that the rule sees it: a plain multiplication
/// between modules would scale the relevance passing through it.
/// </summary>
public sealed class MatMul : nn.Module<Tensor, Tensor, Tensor>, IProduct
{
    /// <summary>Creates the module.</summary>
    /// <param name="scale">The factor applied to the product.</param>
    /// <param name="gate">The input that weights the other (see <see cref="IProduct.Gate"/>), or <c>null</c>.</param>
    public MatMul(double scale = 1.0, int? gate = null) : base(nameof(MatMul))
    {
        if (!double.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale of a matrix product must be finite.");
        }
        if (gate is not (null or 0 or 1))
        {
            throw new ArgumentOutOfRangeException(nameof(gate), gate, "A product of two inputs has gate 0, 1 or none.");
        }
        Scale = scale;
        Gate = gate;
    }

    /// <summary>The factor applied to the product.</summary>
    public double Scale { get; }

    /// <inheritdoc />
    public int? Gate { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input1, Tensor input2)
    {
        // libtorch ends the process on a shape mismatch in matmul instead of throwing: check first.
        Core.TensorShapes.MatMul(input1.shape, input2.shape, "MatMul");
        Tensor product = input1.matmul(input2);
        return Scale == 1.0 ? product : product.mul_(Scalars.Of(Scale));
    }
}
