using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Tests.Engine;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Attribution;

public class GradCamTests
{
    // HandConvNet's Grad-CAM of class 1 at the ReLU ("1"): the channel weights are the mean gradients there,
    //   w0 = (1 + 2 + 0 - 1) / 4 = 0.5,  w1 = (0.5 + 0.5 - 1 + 1) / 4 = 0.25,
    // and the map is 0.5 * R0 + 0.25 * R1 = [[1 + 0.5, 0 + 0], [1.5 + 0, 1.5 + 0.25]] = [[1.5, 0], [1.5, 1.75]].
    private static readonly double[] MapAtReLU = [1.5, 0, 1.5, 1.75];

    // Brought to 4x4 by nearest neighbours: every value fills its 2x2 block.
    private static readonly double[] MapAtReLUUpsampled = [1.5, 1.5, 0, 0, 1.5, 1.5, 0, 0, 1.5, 1.5, 1.75, 1.75, 1.5, 1.5, 1.75, 1.75];

    [Fact]
    public void TheMapIsTheChannelsWeightedByTheirMeanGradientWorkedOutByHand()
    {
        using var scope = NewDisposeScope();
        var gradCam = new GradCam(HandConvNet.Create(), "1");
        using AttributionResult result = gradCam.Attribute(HandConvNet.Input(), AttributionTarget.Class(1), ["1"]);
        AssertClose(MapAtReLU, result.Layers["1"], 1e-14);
        Assert.Equal(new long[] { 1, 1, 2, 2 }, result.Layers["1"].shape);
        AssertClose(MapAtReLUUpsampled, result.Relevance, 1e-14);
        Assert.Equal(new long[] { 1, 1, 4, 4 }, result.Relevance.shape);
    }

    [Fact]
    public void BeforeTheReLUTheGradientIsMasked()
    {
        // At the convolution ("0") the gradient is masked by A > 0: [[1, 0], [0, -1]] and [[0.5, 0], [0, 1]], so
        // w0 = 0 / 4 = 0 and w1 = 1.5 / 4 = 0.375; the map is 0.375 * A1 = [[0.75, -0.75], [-0.375, 0.375]], and its ReLU
        // [[0.75, 0], [0, 0.375]].
        using var scope = NewDisposeScope();
        using AttributionResult withRelu = new GradCam(HandConvNet.Create(), "0").Attribute(HandConvNet.Input(), AttributionTarget.Class(1), ["0"]);
        AssertClose([0.75, 0, 0, 0.375], withRelu.Layers["0"], 1e-14);
        using AttributionResult signed = new GradCam(HandConvNet.Create(), "0", relu: false).Attribute(HandConvNet.Input(), AttributionTarget.Class(1), ["0"]);
        AssertClose([0.75, -0.75, -0.375, 0.375], signed.Layers["0"], 1e-14);
    }

    [Fact]
    public void TheReLUKeepsOnlyWhatSpeaksForTheClass()
    {
        // Class 0's row has -1 at channel 0's top left only: w0 = -1/4, w1 = 0, map = -0.25 * R0 = [[-0.5, 0], [-0.75, -0.75]],
        // all of it against the class, so the ReLU leaves nothing.
        using var scope = NewDisposeScope();
        using AttributionResult signed = new GradCam(HandConvNet.Create(), "1", relu: false).Attribute(HandConvNet.Input(), AttributionTarget.Class(0), ["1"]);
        AssertClose([-0.5, 0, -0.75, -0.75], signed.Layers["1"], 1e-14);
        using AttributionResult withRelu = new GradCam(HandConvNet.Create(), "1").Attribute(HandConvNet.Input(), AttributionTarget.Class(0));
        AssertClose(new double[16], withRelu.Relevance, 0.0);
    }

    [Theory]
    [InlineData(Upsampling.Nearest)]
    [InlineData(Upsampling.Bilinear)]
    public void ItFollowsItsFormulaOnARandomNetwork(Upsampling upsampling)
    {
        // Grad-CAM's formula computed from the layer's output A and the gradient G at it, both by plain autograd on the
        // two halves of the network: cam = relu(sum_c mean_ij(G_c) A_c), brought to the input's 4x4 and repeated over its
        // two channels.
        using var scope = NewDisposeScope();
        var model = TestNets.ConvReLUNet(21);
        Tensor x = TestNets.Input(22);
        using AttributionResult result = new GradCam(model, "2", upsampling: upsampling).Attribute(x, AttributionTarget.Class(2));

        Tensor activation;
        using (no_grad())
        {
            activation = model[2].call(model[1].call(model[0].call(x)));
        }
        Tensor gradient;
        using (enable_grad())
        {
            Tensor a = activation.clone().requires_grad_(true);
            Tensor output = a;
            for (int i = 3; i < 8; i++)
            {
                output = ((nn.Module<Tensor, Tensor>)model[i]).call(output);
            }
            gradient = autograd.grad([output.select(1, 2).sum()], [a])[0];
        }
        Tensor cam = (gradient.mean([2, 3], keepdim: true) * activation).sum(1, keepdim: true).relu();
        Tensor expected = nn.functional.interpolate(cam, [4, 4],
            mode: upsampling == Upsampling.Nearest ? InterpolationMode.Nearest : InterpolationMode.Bilinear,
            align_corners: upsampling == Upsampling.Nearest ? null : false).expand(2, 2, 4, 4);
        AssertClose(D(expected), result.Relevance, 1e-12);
        Assert.True(D(cam).Any(v => v > 0), "the map is zero everywhere: the check would hold for anything");
    }

    [Fact]
    public void GuidedGradCamIsGuidedBackpropagationTimesTheMapWorkedOutByHand()
    {
        // Guided backpropagation of class 1 in HandConvNet: at the ReLU, G0 = [[1, 2], [0, -1]] and G1 = [[0.5, 0.5], [-1, 1]]
        // keep their positive part where the ReLU's input was positive:
        //   G0 -> [[1, 0], [0, 0]] (mask [[1, 0], [1, 1]]),  G1 -> [[0.5, 0], [0, 1]] (mask [[1, 0], [0, 1]]);
        // back to the input: TL 1 * K0 + 0.5 * K1 = [[1, 0.5], [-0.5, 1]], BR 1 * K1 = [[0, 1], [-1, 0]], TR and BL zero.
        // Times the map at the ReLU upsampled ([[1.5, 1.5, 0, 0], [1.5, 1.5, 0, 0], [1.5, 1.5, 1.75, 1.75], [1.5, 1.5, 1.75, 1.75]]):
        double[] guided = [1, 0.5, 0, 0, -0.5, 1, 0, 0, 0, 0, 0, 1, 0, 0, -1, 0];
        double[] expected = guided.Zip(MapAtReLUUpsampled, (g, m) => g * m).ToArray();
        AssertClose([1.5, 0.75, 0, 0, -0.75, 1.5, 0, 0, 0, 0, 0, 1.75, 0, 0, -1.75, 0], expected, 0.0, "the arithmetic above");

        using var scope = NewDisposeScope();
        using AttributionResult result = new GuidedGradCam(HandConvNet.Create(), "1").Attribute(HandConvNet.Input(), AttributionTarget.Class(1), ["1"]);
        AssertClose(expected, result.Relevance, 1e-14);
        AssertClose(MapAtReLU, result.Layers["1"], 1e-14);
    }

    [Fact]
    public void GuidedGradCamIsTheProductOfItsTwoFactorsOnARandomNetwork()
    {
        using var scope = NewDisposeScope();
        var model = TestNets.ConvReLUNet(23);
        Tensor x = TestNets.Input(24);
        using AttributionResult product = new GuidedGradCam(model, "3").Attribute(x, AttributionTarget.Class(0));
        using AttributionResult guided = new Gradient(model, new GuidedBackprop()).Attribute(x, AttributionTarget.Class(0));
        using AttributionResult cam = new GradCam(model, "3").Attribute(x, AttributionTarget.Class(0));
        AssertClose(D(guided.Relevance * cam.Relevance), product.Relevance, 1e-14);
    }

    [Fact]
    public void AnUnknownLayerNamesTheNearestOnes()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => new GradCam(TestNets.ConvReLUNet(25), "22"));
        Assert.Equal("The model has no layer '22'; nearest: 2, 0, 1.", ex.Message);
        var spec = AttributionSpec.Parse("gradcam");
        var missing = Assert.Throws<ArgumentException>(() => spec.CreateAttributor(TestNets.ConvReLUNet(25)));
        Assert.Contains("gradcam needs the layer whose output it explains: gradcam(layer=NAME)", missing.Message);
    }

    [Fact]
    public void ALayerWithoutSpatialDimensionsIsRefused()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => new GradCam(TestNets.ConvReLUNet(26), "5").Attribute(TestNets.Input(27), AttributionTarget.Class(0)));
        Assert.Contains("Grad-CAM needs a layer with spatial dimensions", ex.Message);
    }

    [Fact]
    public void TheSpecNamesTheLayerAndTakesNoComposite()
    {
        Assert.Equal("gradcam(layer=features.denseblock3,upsample=nearest,relu=true)",
            AttributionSpec.Parse("grad_cam(layer=features.denseblock3)").Canonical());
        Assert.Equal("guided_gradcam(layer=features.denseblock3,upsample=bilinear)",
            AttributionSpec.Parse("guided_gradcam(layer=features.denseblock3,upsample=bilinear)").Canonical());
        var ex = Assert.Throws<ArgumentException>(() => AttributionSpec.Parse("gradcam(layer=a):epsilon_plus_flat"));
        Assert.Contains("takes no composite", ex.Message);
    }
}
