using RelevanceSharp.Attribution;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Attribution;

public class InputXGradientTests
{
    [Fact]
    public void ItIsTheInputTimesTheGradientWorkedOutByHand()
    {
        // x * df_1/dx with both from HandConvNet's remarks:
        //   [[1*1, 2*0.5, 0, 0], [0*-0.5, 1*1, 0, 0], [0, 0, 1*-1, 1*1], [0, 0, 0*-1, 2*-1]]
        // A ReLU network without biases is positively homogeneous, so the sum is f_1(x) = 1.
        using var scope = NewDisposeScope();
        using AttributionResult result = new InputXGradient(HandConvNet.Create()).Attribute(HandConvNet.Input(), AttributionTarget.Class(1));
        double[] expected = [1, 1, 0, 0, 0, 1, 0, 0, 0, 0, -1, 1, 0, 0, 0, -2];
        AssertClose(expected, result.Relevance, 1e-14);
        Assert.Equal(1.0, D(result.Relevance).Sum(), 14);
        Assert.Equal(1.0, D(result.Output)[1], 14);
    }

    [Fact]
    public void AtALayerItIsTheActivationTimesTheGradient()
    {
        // At layer "0": A0 * [[1, 0], [0, -1]] = [[2, 0], [0, -3]], A1 * [[0.5, 0], [0, 1]] = [[1, 0], [0, 1]] (Captum's
        // LayerGradientXActivation); they too sum to f_1 = 1.
        using var scope = NewDisposeScope();
        using AttributionResult result = new InputXGradient(HandConvNet.Create()).Attribute(HandConvNet.Input(), AttributionTarget.Class(1), ["0"]);
        AssertClose([2, 0, 0, -3, 1, 0, 0, 1], result.Layers["0"], 1e-14);
    }

    [Fact]
    public void OnACubeItIsTheCube()
    {
        // x * x^2 = x^3: [1, -8, 0.125] for x = [1, -2, 0.5].
        using var scope = NewDisposeScope();
        using AttributionResult result = new InputXGradient(PowerSum.CubeSum()).Attribute(T([1.0, -2.0, 0.5], 1, 3), AttributionTarget.Class(0));
        AssertClose([1, -8, 0.125], result.Relevance, 1e-14);
    }
}
