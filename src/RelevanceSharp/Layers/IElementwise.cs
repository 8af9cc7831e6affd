namespace RelevanceSharp.Layers;

/// <summary>
/// A module whose every output element depends on the input element at the same position only: an activation
/// TorchSharp has no module for (the error function, a hard sigmoid with other constants), an affine map per element
/// with constant factors and offsets (the normalization an exporter writes as a subtraction and a division, the scale
/// and shift of an unfused batch norm). Composites treat it as an activation (<c>LayerTypes.Activation</c>): the named
/// LRP composites give it <c>Pass</c>, which hands each output element's relevance to its input element unchanged, as
/// they do for batch norms. For a constant factor that equals input times gradient, <c>x * c * R / (c * x) = R</c>.
/// </summary>
public interface IElementwise
{
}
