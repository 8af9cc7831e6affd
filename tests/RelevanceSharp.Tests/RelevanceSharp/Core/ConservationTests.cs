using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using static RelevanceSharp.Tests.Rules.RuleFixtures;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

/// <summary>LRP-0 without biases conserves relevance, layer by layer and through a ReLU network.</summary>
public class ConservationTests
{
    private static Composite Lrp0() => new LayerMapComposite(new (ModuleMatcher, Rule)[]
    {
        (LayerTypes.Activation, new Pass()),
        (LayerTypes.Linear, new Epsilon(0.0)),
    });

    [Fact]
    public void Lrp0OnABiasFreeDenseLayerConservesEachSample()
    {
        using var scope = NewDisposeScope();
        // Sample 0 only: LRP-0 is undefined for the exact-zero output of sample 1.
        Tensor relevance = RuleRelevance(Dense(bias: false), new Epsilon(0.0), DenseX().narrow(0, 0, 1), DenseR().narrow(0, 0, 1));
        Assert.Equal(DenseSeed[..4].Sum(), D(relevance).Sum(), 13);
    }

    [Fact]
    public void Lrp0OnABiasFreeConvolutionConservesEachSample()
    {
        using var scope = NewDisposeScope();
        Tensor relevance = RuleRelevance(Conv(bias: false), new Epsilon(0.0), ConvX(), ConvR());
        double[] r = D(relevance);
        for (int n = 0; n < ConvBatch; n++)
        {
            double incoming = ConvSeed[(n * 27)..((n + 1) * 27)].Sum();
            Assert.Equal(incoming, r[(n * 50)..((n + 1) * 50)].Sum(), 12);
        }
    }

    [Fact]
    public void Lrp0ThroughABiasFreeReLUNetworkConservesTheTargetScore()
    {
        using var scope = NewDisposeScope();
        var model = TestNets.ConvReLUNet(seed: 41, zeroBias: true);
        Tensor x = TestNets.Input(42);
        var attributor = new Gradient(model, Lrp0());
        for (long target = 0; target < 3; target++)
        {
            using AttributionResult result = attributor.Attribute(x, AttributionTarget.ClassScore(target));
            double[] output = D(result.Output), relevance = D(result.Relevance);
            for (int n = 0; n < 2; n++)
            {
                double score = output[n * 3 + (int)target];
                Assert.True(Math.Abs(score) > 1e-3, "a score too small to test conservation");
                Assert.Equal(score, relevance[(n * 32)..((n + 1) * 32)].Sum(), 12);
            }
        }
    }

    [Fact]
    public void Lrp0OnAReLUNetworkWithBiasesIsGradientTimesInput()
    {
        // Biases break conservation but not the identity LRP-0 = input * gradient on ReLU networks: starting from the
        // relevance R_k = y_k, the top layer divides it by z_k = y_k again, so the result is x times the gradient of
        // y_k (seed one-hot). The gradient here is plain autograd on the unhooked model.
        using var scope = NewDisposeScope();
        var model = TestNets.ConvReLUNet(seed: 43);
        Tensor x = TestNets.Input(44);
        using var grad = enable_grad();
        Tensor input = x.clone().requires_grad_(true);
        Tensor output = model.call(input);
        Tensor seed = zeros_like(output);
        seed[TensorIndex.Colon, 1] = 1.0;
        double[] expected = D(autograd.grad(new[] { output }, new[] { input }, new[] { seed })[0] * x);

        using AttributionResult result = new Gradient(model, Lrp0()).Attribute(x, AttributionTarget.ClassScore(1));
        AssertClose(expected, result.Relevance, 1e-12);
        double[] sums = { D(result.Relevance)[..32].Sum(), D(result.Relevance)[32..].Sum() };
        double[] scores = { D(result.Output)[1], D(result.Output)[4] };
        Assert.True(Math.Abs(sums[0] - scores[0]) > 1e-6 || Math.Abs(sums[1] - scores[1]) > 1e-6,
            "with biases the relevance should not be conserved exactly (the test net lost its biases?)");
    }
}
