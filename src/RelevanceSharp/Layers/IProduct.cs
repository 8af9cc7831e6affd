namespace RelevanceSharp.Layers;

/// <summary>
/// A module whose output is a product of its computed inputs (a matrix product, an element-wise product), each input
/// entering linearly. Composites give such modules a product rule (<c>Uniform</c>, or <c>ConstantGate</c> under
/// CP-LRP), and <see cref="Gate"/> says which input, if any, acts as a gate or as attention weights.
/// </summary>
public interface IProduct
{
    /// <summary>
    /// The position of the input that weights or gates the other (the attention weights of an attention's second
    /// matrix product, the activated gate of a gated MLP), or <c>null</c> when no input has that role.
    /// </summary>
    int? Gate { get; }
}
