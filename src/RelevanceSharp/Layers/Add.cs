using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Layers;

/// <summary>
/// Adds two tensors (broadcasting as <c>+</c> does): a residual addition as a module of two inputs, so that composites
/// can give it a rule. Named composites give it <c>Norm</c>, which splits the relevance of the sum between the two
/// summands in proportion to their values, as for <see cref="Sum"/>.
/// </summary>
public sealed class Add : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public Add() : base(nameof(Add))
    {
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input1, Tensor input2) => input1.add(input2, Scalars.One);
}
