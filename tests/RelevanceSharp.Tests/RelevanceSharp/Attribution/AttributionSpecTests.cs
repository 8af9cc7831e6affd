using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Tests.Engine;
using RelevanceSharp.Vision.Models;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Attribution;

/// <summary>
/// The one attribution spec: read from its text form, written back as given and in its canonical form, checked
/// against the registries, and built by the one factory (the library's, explain's, evaluate's and the benchmark's).
/// </summary>
public class AttributionSpecTests
{
    [Theory]
    [InlineData("epsilon_plus_flat", "gradient", "epsilon_plus_flat", "")]
    [InlineData("epsilon_gamma_box+densenet_seq_thresh", "gradient", "epsilon_gamma_box", "densenet_seq_thresh")]
    [InlineData(" Epsilon_Gamma_Box + densenet_thresh_seq ", "gradient", "epsilon_gamma_box", "densenet_thresh_seq")]
    [InlineData("epsilon_plus+none", "gradient", "epsilon_plus", "")]
    [InlineData("epsilon_alpha2_beta1+sequential_merge_batch_norm+resnet", "gradient", "epsilon_alpha2_beta1", "sequential_merge_batch_norm,resnet")]
    [InlineData("gradient", "gradient", null, "")]
    [InlineData("gradient+resnet", "gradient", null, "resnet")]
    [InlineData("smoothgrad", "smoothgrad", null, "")]
    [InlineData("integrated_gradients", "integrated_gradients", null, "")]
    [InlineData("occlusion", "occlusion", null, "")]
    [InlineData("smoothgrad:epsilon_plus_flat+resnet", "smoothgrad", "epsilon_plus_flat", "resnet")]
    public void MethodsCompositesAndCanonizersAreRead(string text, string method, string? composite, string canonizers)
    {
        AttributionSpec spec = AttributionSpec.Parse(text);
        Assert.Equal(method, spec.Method);
        Assert.Equal(composite, spec.Composite);
        Assert.Equal(canonizers, string.Join(",", spec.Canonizers));
        Assert.Empty(spec.MethodArguments);
        Assert.Empty(spec.CompositeArguments);
        Assert.Equal(spec.Name, AttributionSpec.Parse(spec.Name).Name);
    }

    [Theory]
    [InlineData("epsilon_gamma_box(low=[-1,-2],high=[1,2],epsilon=1e+3)+densenet_seq_thresh")]
    [InlineData("smoothgrad(noise_level=0.2,iterations=3)")]
    [InlineData("smoothgrad(iterations=3):epsilon_plus_flat(epsilon=0.25)+resnet")]
    [InlineData("integrated_gradients(iterations=5):epsilon_gamma_box(low=-1,high=1)")]
    [InlineData("occlusion(window=4,stride=2)")]
    [InlineData("random(seed=3)")]
    [InlineData("epsilon_plus(zero_params=bias)")]
    public void TheTextFormRoundTripsAsGivenAndCanonically(string text)
    {
        // random is the evaluation's control, declared in its own assembly.
        Assert.NotNull(UniformNoiseAttribution.Entry);
        AttributionSpec spec = AttributionSpec.Parse(text);
        Assert.Equal(text, spec.ToString());
        Assert.Equal(spec, AttributionSpec.Parse(spec.ToString()));
        string canonical = spec.Canonical();
        Assert.Equal(canonical, AttributionSpec.Parse(canonical).Canonical());
    }

    [Fact]
    public void ArgumentsMayHoldListsAndExponents()
    {
        AttributionSpec spec = AttributionSpec.Parse("epsilon_gamma_box(low=[-1,-2],high=[1,2],epsilon=1e+3)+densenet_seq_thresh");
        Assert.Equal(new[] { "low=[-1,-2]", "high=[1,2]", "epsilon=1e+3" }, spec.CompositeArguments);
        Assert.Equal(new[] { "densenet_seq_thresh" }, spec.Canonizers);
        Assert.Equal("epsilon_gamma_box(low=[-1,-2],high=[1,2],epsilon=1e+3)+densenet_seq_thresh", spec.Name);
        Assert.Equal("epsilon_gamma_box(low=[-1,-2],high=[1,2],epsilon=1000,gamma=0.25,stabilizer=1e-6)+densenet_seq_thresh", spec.Canonical());
        Assert.Equal(new[] { "noise_level=0.2", "iterations=3" }, AttributionSpec.Parse("smoothgrad(noise_level=0.2, iterations=3)").MethodArguments);
    }

    [Theory]
    [InlineData("epsilon_plus_flat", "epsilon_plus_flat(epsilon=1e-6,stabilizer=1e-6)")]
    [InlineData("epsilon_plus_flat(stabilizer=0.000001,epsilon=1e-06)", "epsilon_plus_flat(epsilon=1e-6,stabilizer=1e-6)")]
    [InlineData("EPSILON_PLUS_FLAT(EPSILON=2.50)+NONE", "epsilon_plus_flat(epsilon=2.5,stabilizer=1e-6)")]
    [InlineData("gradient", "gradient")]
    [InlineData("smoothgrad", "smoothgrad(noise_level=0.1,iterations=20,seed=0)")]
    [InlineData("smoothgrad(seed=0,iterations=20.0)", "smoothgrad(noise_level=0.1,iterations=20,seed=0)")]
    [InlineData("integrated_gradients", "integrated_gradients(iterations=20)")]
    [InlineData("occlusion(window=4)", "occlusion(window=4,stride=4)")]
    [InlineData("smoothgrad:epsilon_plus", "smoothgrad(noise_level=0.1,iterations=20,seed=0):epsilon_plus(epsilon=1e-6,stabilizer=1e-6)")]
    [InlineData("epsilon_plus(zero_params=bias)+resnet", "epsilon_plus(epsilon=1e-6,stabilizer=1e-6,zero_params=[\"bias\"])+resnet")]
    [InlineData("epsilon_plus(zero_params=[\"bias\"])+resnet", "epsilon_plus(epsilon=1e-6,stabilizer=1e-6,zero_params=[\"bias\"])+resnet")]
    [InlineData("beta_smooth", "beta_smooth(beta_smooth=10)")]
    [InlineData("guided_backprop+vgg", "guided_backprop+vgg")]
    public void TheCanonicalFormSpellsEveryDefault(string text, string canonical)
    {
        Assert.Equal(canonical, AttributionSpec.Parse(text).Canonical());
    }

    [Fact]
    public void TheContextSuppliesTheInputBoundsOfTheCanonicalForm()
    {
        var bounds = new InputBounds([-1.25, -2.0], [2.5, 2.0]);
        AttributionSpec spec = AttributionSpec.Parse("epsilon_gamma_box(high=3)");
        Assert.Equal("epsilon_gamma_box(low=[-1.25,-2],high=3,epsilon=1e-6,gamma=0.25,stabilizer=1e-6)", spec.Canonical(AttributionContext.ForInputs(bounds)));
        // Given explicitly, the same bounds read the same.
        Assert.Equal(spec.Canonical(AttributionContext.ForInputs(bounds)),
            AttributionSpec.Parse("epsilon_gamma_box(low=[-1.25,-2.0],high=3.0)").Canonical());
        var missing = Assert.Throws<ArgumentException>(() => spec.Canonical());
        Assert.Contains("needs the input bounds low", missing.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("integrated-gradients(iterations=5)", "integrated_gradients(iterations=5)")]
    [InlineData("Integrated-Gradients", "integrated_gradients")]
    [InlineData("smooth_grad(iterations=2)", "smoothgrad(iterations=2)")]
    [InlineData("integrated-gradients:epsilon_plus_flat", "integrated_gradients:epsilon_plus_flat")]
    public void OlderSpellingsOfAMethodAreReadAsItsName(string text, string name)
    {
        AttributionSpec spec = AttributionSpec.Parse(text);
        Assert.Equal(name, spec.Name);
        Assert.Equal(AttributionSpec.Parse(name).Canonical(), spec.Canonical());
        Assert.Same(MethodRegistry.Get(spec.Method), MethodRegistry.Find(text.Split('(', ':')[0]));
    }

    [Fact]
    public void EveryMethodNameAndSpellingIsReservedFromComposites()
    {
        Assert.NotNull(UniformNoiseAttribution.Entry);
        Assert.Equal(["gradient", "input_x_gradient", "smoothgrad", "smoothgrad_sq", "vargrad", "integrated_gradients", "gradient_shap", "occlusion", "random",
            "attention_rollout", "gradcam", "guided_gradcam"], MethodRegistry.Names);
        foreach (string name in new[]
        {
            "gradient", "smoothgrad", "smooth_grad", "integrated_gradients", "integrated-gradients", "occlusion", "random", "attention_rollout", "attention-rollout",
            "none", "input-x-gradient", "smoothgrad-squared", "var_grad", "gradient-shap", "grad-cam", "guided-grad-cam",
        })
        {
            Assert.Contains(name, MethodRegistry.Reserved);
        }
        var entry = new CompositeEntry("random", "", [], (_, canonizers) => new EpsilonPlus(canonizers: canonizers));
        Assert.Contains("is reserved", Assert.Throws<ArgumentException>(() => CompositeRegistry.Register(entry)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lrp", "unknown method 'lrp'")]
    [InlineData("epsilon_plus+densenet", "unknown canonizer 'densenet'")]
    [InlineData("occlusion+resnet", "canonizers only change LRP")]
    [InlineData("occlusion:epsilon_plus", "takes no composite")]
    [InlineData("smoothgrad(sigma=1)", "'sigma=1' is not an argument of smoothgrad")]
    [InlineData("gradient(iterations=2)", "it takes none")]
    [InlineData("epsilon_plus(gama=2)", "unknown argument(s) 'gama' for composite 'epsilon_plus'")]
    [InlineData("smoothgrad:no_such_rules", "unknown composite 'no_such_rules'")]
    [InlineData("smoothgrad(iterations=0)", "must be at least 1")]
    [InlineData("smoothgrad(iterations=2.5)", "must be a whole number")]
    [InlineData("smoothgrad(noise_level=-1)", "must be at least 0")]
    [InlineData("epsilon_plus(epsilon=abc)", "must be a finite number")]
    [InlineData("smoothgrad:epsilon_plus:vgg", "more than one ':'")]
    [InlineData("epsilon_plus(epsilon=1", "unclosed")]
    [InlineData("epsilon_plus)", "unmatched")]
    [InlineData("epsilon_plus++resnet", "empty part")]
    [InlineData("", "empty part")]
    public void BadSpecsAreRefusedWithAReason(string text, string reason)
    {
        var ex = Assert.Throws<ArgumentException>(() => AttributionSpec.Parse(text));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith($"Configuration '{text}'", ex.Message, StringComparison.Ordinal);
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
            EvaluationDefaults.Specs.Select(c => c.Name));
    }

    [Fact]
    public void InputBoundsComeFromTheNormalization()
    {
        InputBounds bounds = InputBounds.FromNormalization([DemoModel.Mean], [DemoModel.Std]);
        Assert.Equal(DemoModel.InputBounds.Low, bounds.Low);
        Assert.Equal(DemoModel.InputBounds.High, bounds.High);
        Assert.Equal((0.0 - DemoModel.Mean) / DemoModel.Std, bounds.Low[0], 12);
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
        Attributor fromBounds = AttributionSpec.Parse("epsilon_gamma_box").CreateAttributor(model, AttributionContext.ForInputs(bounds));
        using (AttributionResult result = fromBounds.Attribute(input, AttributionTarget.Class(1)))
        {
            AssertClose(expected, result.Relevance, 1e-12, "bounds from the model");
        }
        Attributor explicitBounds = AttributionSpec.Parse("epsilon_gamma_box(low=-1.25,high=2.5)").CreateAttributor(model);
        using (AttributionResult result = explicitBounds.Attribute(input, AttributionTarget.Class(1)))
        {
            AssertClose(expected, result.Relevance, 1e-12, "bounds given");
        }
        var ex = Assert.Throws<ArgumentException>(() => AttributionSpec.Parse("epsilon_gamma_box").CreateAttributor(model));
        Assert.Contains("needs the input bounds", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EachMethodBuildsItsAttributor()
    {
        Sequential model = TestNets.ConvReLUNet(43);
        Assert.IsType<Gradient>(AttributionSpec.Parse("gradient").CreateAttributor(model));
        var smooth = Assert.IsType<SmoothGrad>(AttributionSpec.Parse("smoothgrad(noise_level=0.3,iterations=4,seed=9)").CreateAttributor(model));
        Assert.Equal((0.3, 4, 9L), (smooth.NoiseLevel, smooth.Iterations, smooth.Seed!.Value));
        var defaults = Assert.IsType<SmoothGrad>(AttributionSpec.Parse("smoothgrad").CreateAttributor(model));
        Assert.Equal((SmoothGrad.DefaultNoiseLevel, SmoothGrad.DefaultIterations, 0L), (defaults.NoiseLevel, defaults.Iterations, defaults.Seed!.Value));
        var integrated = Assert.IsType<IntegratedGradients>(AttributionSpec.Parse("integrated_gradients(iterations=5)").CreateAttributor(model));
        Assert.Equal(5, integrated.Iterations);
        var occlusion = Assert.IsType<Occlusion>(AttributionSpec.Parse("occlusion(window=3)").CreateAttributor(model));
        Assert.Equal([3L, 3L], occlusion.Window);
        Assert.Equal([3L, 3L], occlusion.Stride);
        var lrp = Assert.IsType<Gradient>(AttributionSpec.Parse("epsilon_plus_flat+sequential_merge_batch_norm").CreateAttributor(model));
        Assert.IsType<EpsilonPlusFlat>(lrp.Composite);
        Assert.Single(lrp.Composite!.Canonizers);
        var smoothLrp = Assert.IsType<SmoothGrad>(AttributionSpec.Parse("smoothgrad:epsilon_plus_flat").CreateAttributor(model));
        Assert.IsType<EpsilonPlusFlat>(smoothLrp.Composite);
        var canonizedOnly = Assert.IsType<Gradient>(AttributionSpec.Parse("gradient+sequential_merge_batch_norm").CreateAttributor(model));
        Assert.Single(canonizedOnly.Composite!.Canonizers);
        Attributor targeted = AttributionSpec.Parse("gradient").CreateAttributor(model, new AttributionContext { Target = AttributionTarget.Class(1) });
        Assert.Equal("class 1", targeted.DefaultTarget.Description);
    }

    [Fact]
    public void TheCanonicalTextBuildsWhatTheSpecComputes()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(44);
        model.eval();
        Tensor input = TestNets.Input(45);
        var context = AttributionContext.ForInputs(new InputBounds([-3.0], [3.0]));
        foreach (string text in new[] { "epsilon_gamma_box(gamma=0.5)", "smoothgrad(iterations=3,noise_level=0.05)", "epsilon_plus(epsilon=0.01)" })
        {
            AttributionSpec spec = AttributionSpec.Parse(text);
            using AttributionResult given = spec.CreateAttributor(model, context).Attribute(input, AttributionTarget.Class(0));
            using AttributionResult canonical = AttributionSpec.Parse(spec.Canonical(context)).CreateAttributor(model).Attribute(input, AttributionTarget.Class(0));
            AssertClose(D(given.Relevance), canonical.Relevance, 0, text);
        }
    }

    [Fact]
    public void TheDescriptionNamesTheMethodItsMainArgumentsAndTheComposite()
    {
        Assert.Equal("LRP with epsilon_plus_flat, canonizers resnet", AttributionSpec.Parse("epsilon_plus_flat+resnet").Describe());
        Assert.Equal("gradient", AttributionSpec.Parse("gradient").Describe());
        Assert.Equal("SmoothGrad (20 samples, noise 0.1) of LRP with epsilon_plus", AttributionSpec.Parse("smoothgrad:epsilon_plus").Describe());
        Assert.Equal("Integrated Gradients (3 steps)", AttributionSpec.Parse("integrated_gradients(iterations=3)").Describe());
        Assert.Equal("occlusion (window 7, stride 7)", AttributionSpec.Parse("occlusion(window=7)").Describe());
    }
}
