using static TorchSharp.torch;

namespace RelevanceSharp.Layers;

/// <summary>
/// Sums its input over one dimension (the last by default). Residual networks route their additions through it
/// (the summands stacked along the last dimension) so that composites can give additions a rule of their own.
/// </summary>
public sealed class Sum : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public Sum(long dim = -1) : base(nameof(Sum))
    {
        Dim = dim;
    }

    /// <summary>The dimension that is summed over.</summary>
    public long Dim { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.sum(Dim);
}
