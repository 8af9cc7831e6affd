using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// A module that can compute its forward pass with parameters other than its own. Implement this on a custom
/// parameterized layer to let parameter-modifying rules (ZPlus, Gamma, ...) work with it.
/// </summary>
public interface IFunctionalLayer
{
    /// <summary>The parameter slots of the layer (a slot may hold <c>null</c>, e.g. a missing bias).</summary>
    IReadOnlyDictionary<string, Tensor?> GetParameters();

    /// <summary>Computes the layer on <paramref name="input"/> with the given parameters.</summary>
    Tensor Forward(Tensor input, IReadOnlyDictionary<string, Tensor?> parameters);
}
