using static TorchSharp.torch;

namespace RelevanceSharp.Layers;

/// <summary>
/// The element-wise product of two computed tensors (broadcasting as <c>*</c> does), as a module, so that composites
/// can give it a rule: the gate of a gated MLP (<c>silu(gate(h)) * up(h)</c>, gate 0), a squeeze-and-excitation gate,
/// SiLU written as <c>x * sigmoid(x)</c>.
/// </summary>
public sealed class Multiply : nn.Module<Tensor, Tensor, Tensor>, IProduct
{
    /// <summary>Creates the module.</summary>
    /// <param name="gate">The input that gates the other (see <see cref="IProduct.Gate"/>), or <c>null</c>.</param>
    public Multiply(int? gate = null) : base(nameof(Multiply))
    {
        if (gate is not (null or 0 or 1))
        {
            throw new ArgumentOutOfRangeException(nameof(gate), gate, "A product of two inputs has gate 0, 1 or none.");
        }
        Gate = gate;
    }

    /// <inheritdoc />
    public int? Gate { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input1, Tensor input2) => input1 * input2;
}
