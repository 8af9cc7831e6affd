using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Tests.Engine;
using RelevanceSharp.Vision.Models;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>Reading configurations from their text form and building their attributors.</summary>
public class EvaluationConfigTests
{
    [Theory]
    [InlineData("epsilon_plus_flat", "epsilon_plus_flat", "")]
    [InlineData("epsilon_gamma_box+densenet_seq_thresh", "epsilon_gamma_box", "densenet_seq_thresh")]
    [InlineData(" Epsilon_Gamma_Box + densenet_thresh_seq ", "epsilon_gamma_box", "densenet_thresh_seq")]
    [InlineData("epsilon_plus+none", "epsilon_plus", "")]
    [InlineData("epsilon_alpha2_beta1+sequential_merge_batch_norm+resnet", "epsilon_alpha2_beta1", "sequential_merge_batch_norm,resnet")]
    [InlineData("gradient", "gradient", "")]
    [InlineData("smoothgrad", "smoothgrad", "")]
    [InlineData("integrated_gradients", "integrated_gradients", "")]
    public void MethodsAndCanonizersAreRead(string text, string method, string canonizers)
    {
        EvaluationConfig config = EvaluationConfig.Parse(text);
        Assert.Equal(method, config.Method);
        Assert.Equal(canonizers, string.Join(",", config.Canonizers));
        Assert.Empty(config.Arguments);
        Assert.Equal(config.Name, EvaluationConfig.Parse(config.Name).Name);
    }

    [Fact]
    public void ArgumentsMayHoldListsAndExponents()
    {
        EvaluationConfig config = EvaluationConfig.Parse("epsilon_gamma_box(low=[-1,-2],high=[1,2],epsilon=1e+3)+densenet_seq_thresh");
        Assert.Equal(new[] { "low=[-1,-2]", "high=[1,2]", "epsilon=1e+3" }, config.Arguments);
        Assert.Equal(new[] { "densenet_seq_thresh" }, config.Canonizers);
        Assert.Equal("epsilon_gamma_box(low=[-1,-2],high=[1,2],epsilon=1e+3)+densenet_seq_thresh", config.Name);
        Assert.Equal(new[] { "noise_level=0.2", "iterations=3" }, EvaluationConfig.Parse("smoothgrad(noise_level=0.2, iterations=3)").Arguments);
        Assert.True(config.IsComposite);
        Assert.False(EvaluationConfig.Parse("smoothgrad").IsComposite);
    }

    [Theory]
    [InlineData("lrp", "unknown method 'lrp'")]
    [InlineData("epsilon_plus+densenet", "unknown canonizer 'densenet'")]
    [InlineData("gradient+resnet", "canonizers only change LRP")]
    [InlineData("smoothgrad(sigma=1)", "'sigma=1' is not an argument of smoothgrad")]
    [InlineData("gradient(iterations=2)", "it takes none")]
    [InlineData("epsilon_plus(epsilon=1", "unclosed")]
    [InlineData("epsilon_plus)", "unmatched")]
    [InlineData("epsilon_plus++resnet", "empty part")]
    [InlineData("", "empty part")]
    public void BadConfigurationsAreRefusedWithAReason(string text, string reason)
    {
        var ex = Assert.Throws<ArgumentException>(() => EvaluationConfig.Parse(text));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDemoDefaultsAreBothCompositesWithEachCanonizerChoiceAndTheGradient()
    {
        Assert.Equal(
            new[]
            {
                "epsilon_plus_flat", "epsilon_plus_flat+densenet_seq_thresh", "epsilon_plus_flat+densenet_thresh_seq",
                "epsilon_gamma_box", "epsilon_gamma_box+densenet_seq_thresh", "epsilon_gamma_box+densenet_thresh_seq", "gradient",
            },
            EvaluationConfig.DemoDefaults.Select(c => c.Name));
    }

    [Fact]
    public void InputBoundsComeFromTheNormalization()
    {
        InputBounds bounds = InputBounds.FromNormalization([DemoModel.Mean], [DemoModel.Std]);
        // DemoModel computes its bounds in float32; these are computed in float64.
        Assert.Equal(DemoModel.InputBounds.Low, bounds.Low[0], 6);
        Assert.Equal(DemoModel.InputBounds.High, bounds.High[0], 6);
        InputBounds imageNet = InputBounds.FromNormalization([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);
        Assert.Equal((0.0 - 0.485f) / 0.229f, imageNet.Low[0], 12);
        Assert.Equal((1.0 - 0.406f) / 0.225f, imageNet.High[2], 12);
        Assert.StartsWith("low=[", imageNet.ToArguments()[0], StringComparison.Ordinal);
    }

    [Fact]
    public void EpsilonGammaBoxTakesTheModelsBoundsUnlessGiven()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(41);
        model.eval();
        Tensor input = TestNets.Input(42);
        var bounds = new InputBounds([-1.25], [2.5]);
        double[] expected;
        using (AttributionResult reference = new Gradient(model, new EpsilonGammaBox(-1.25, 2.5)).Attribute(input, AttributionTarget.Class(1)))
        {
            expected = D(reference.Relevance);
        }
        Attributor fromBounds = EvaluationConfig.Parse("epsilon_gamma_box").CreateAttributor(model, bounds);
        using (AttributionResult result = fromBounds.Attribute(input, AttributionTarget.Class(1)))
        {
            AssertClose(expected, result.Relevance, 1e-12, "bounds from the model");
        }
        Attributor explicitBounds = EvaluationConfig.Parse("epsilon_gamma_box(low=-1.25,high=2.5)").CreateAttributor(model);
        using (AttributionResult result = explicitBounds.Attribute(input, AttributionTarget.Class(1)))
        {
            AssertClose(expected, result.Relevance, 1e-12, "bounds given");
        }
        var ex = Assert.Throws<ArgumentException>(() => EvaluationConfig.Parse("epsilon_gamma_box").CreateAttributor(model));
        Assert.Contains("needs the input bounds", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EachMethodBuildsItsAttributor()
    {
        Sequential model = TestNets.ConvReLUNet(43);
        Assert.IsType<Gradient>(EvaluationConfig.Parse("gradient").CreateAttributor(model));
        var smooth = Assert.IsType<SmoothGrad>(EvaluationConfig.Parse("smoothgrad(noise_level=0.3,iterations=4,seed=9)").CreateAttributor(model));
        Assert.Equal((0.3, 4, 9L), (smooth.NoiseLevel, smooth.Iterations, smooth.Seed!.Value));
        var integrated = Assert.IsType<IntegratedGradients>(EvaluationConfig.Parse("integrated_gradients(iterations=5)").CreateAttributor(model));
        Assert.Equal(5, integrated.Iterations);
        var lrp = Assert.IsType<Gradient>(EvaluationConfig.Parse("epsilon_plus_flat+sequential_merge_batch_norm").CreateAttributor(model));
        Assert.IsType<EpsilonPlusFlat>(lrp.Composite);
        Assert.Single(lrp.Composite!.Canonizers);
        Assert.Throws<ArgumentException>(() => EvaluationConfig.Parse("epsilon_plus_flat(gamma=2)").CreateAttributor(model));
        Assert.Throws<ArgumentException>(() => EvaluationConfig.Parse("smoothgrad(iterations=2.5)").CreateAttributor(model));
    }
}
