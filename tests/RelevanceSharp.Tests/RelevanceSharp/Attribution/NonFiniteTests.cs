using RelevanceSharp.Attribution;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Rules;
using RelevanceSharp.Tests.Cli;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Attribution;

/// <summary>
/// An attribution that is not finite for a finite input fails loudly, names the method, the configuration and the
/// layer where the values stopped being finite, and the jobs keep going past the images it concerns.
/// </summary>
public sealed class NonFiniteTests : IDisposable
{
    private readonly CliWorkspace work = new();

    public void Dispose() => work.Dispose();

    /// <summary>Gives NaN for every sample whose mean exceeds 0.9 (a white image), the identity otherwise.</summary>
    private sealed class BrightIsNaN() : nn.Module<Tensor, Tensor>(nameof(BrightIsNaN))
    {
        public override Tensor forward(Tensor input)
        {
            Tensor bright = input.mean(new long[] { 1, 2, 3 }, keepdim: true) > Scalars.Of(0.9);
            return where(bright, full_like(input, Scalars.Of(double.NaN)), input);
        }
    }

    /// <summary>A rule that hands on NaN: a broken backward step.</summary>
    private sealed class NaNRule : Rule
    {
        public override string ToString() => "NaNRule";

        public override Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput) => full_like(gradInput, Scalars.Of(double.NaN));
    }

    private static nn.Module<Tensor, Tensor> Model()
    {
        manual_seed(4);
        var model = nn.Sequential(
            ("gate", new BrightIsNaN()),
            ("conv", nn.Conv2d(3, 4, 3, padding: 1)),
            ("relu", nn.ReLU()),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(4 * 8 * 8, 3)));
        model.eval();
        return model;
    }

    private static Tensor Inputs()
    {
        manual_seed(5);
        Tensor images = rand(3, 3, 8, 8).mul(Scalars.Of(0.8));
        images[1] = ones(3, 8, 8);
        return images;
    }

    [Fact]
    public void ANaNFromTheForwardPassNamesTheMethodConfigurationAndLayer()
    {
        using var scope = NewDisposeScope();
        var model = Model();
        var attributor = new Gradient(model, CompositeRegistry.Create("epsilon_plus"));

        var error = Assert.Throws<NonFiniteAttributionException>(() => attributor.Attribute(Inputs(), AttributionTarget.Class(0)));

        Assert.Equal("Gradient", error.Method);
        Assert.Equal("EpsilonPlus", error.Configuration);
        Assert.StartsWith("'gate'", error.Layer, StringComparison.Ordinal);
        Assert.Contains("a non-finite model output (", error.Message, StringComparison.Ordinal);
        Assert.Contains("forward pass", error.Message, StringComparison.Ordinal);
        // The composite is gone again, the diagnosis's hooks too.
        Assert.All(model.modules(), m => Assert.Equal(0, ModuleHooks.Count(m)));
    }

    [Fact]
    public void ANaNFromARuleNamesTheLayerWhoseBackwardStepMadeIt()
    {
        using var scope = NewDisposeScope();
        var model = Model();
        var composite = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (LayerTypes.Convolution, new NaNRule()), (LayerTypes.Dense, new Epsilon()) });
        var attributor = new Gradient(model, composite);
        Tensor finite = Inputs().narrow(0, 0, 1);

        var error = Assert.Throws<NonFiniteAttributionException>(() => attributor.Attribute(finite, AttributionTarget.Class(0)));

        Assert.StartsWith("'conv'", error.Layer, StringComparison.Ordinal);
        Assert.Contains("non-finite relevance (", error.Message, StringComparison.Ordinal);
        Assert.Contains("backward pass", error.Message, StringComparison.Ordinal);
        Assert.All(model.modules(), m => Assert.Equal(0, ModuleHooks.Count(m)));
    }

    [Fact]
    public void ThePlainGradientIsCheckedToo()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<NonFiniteAttributionException>(() => new Gradient(Model()).Attribute(Inputs(), AttributionTarget.Class(0)));
        Assert.Equal("no composite", error.Configuration);
        Assert.StartsWith("'gate'", error.Layer, StringComparison.Ordinal);
    }

    [Fact]
    public void TheCheckCanBeTurnedOff()
    {
        using var scope = NewDisposeScope();
        var attributor = new Gradient(Model()) { RequireFinite = false };
        using AttributionResult result = attributor.Attribute(Inputs(), AttributionTarget.Class(0));
        Assert.True(isnan(result.Output[1]).all().item<bool>());
        Assert.True(isfinite(result.Output[0]).all().item<bool>());
    }

    [Fact]
    public void ExplainWritesTheFiniteImagesAndReportsTheOthers()
    {
        work.Image("in/a.png", 8, 8, seed: 1);
        string white = work.File("in/b.png", WhitePng());
        work.Image("in/c.png", 8, 8, seed: 2);
        var options = new ExplainOptions
        {
            Inputs = [work.PathOf("in")],
            Transform = new ImageTransform(0, 0, [0f], [1f]),
            OutputFolder = work.Output,
            BatchSize = 3,
        };
        var failed = new List<FailedImage>();
        using ExplainJob job = ExplainJob.Prepare(options, () => new ExplainModel(Model(), "test model", options.Transform));

        ExplainSummary summary = job.Run(onFailure: failed.Add);

        FailedImage failure = Assert.Single(failed);
        Assert.Equal(white, failure.Input);
        Assert.Contains("'gate'", failure.Reason, StringComparison.Ordinal);
        Assert.Contains("EpsilonPlusFlat", failure.Reason, StringComparison.Ordinal);
        Assert.Equal(failed, summary.Failures);
        Assert.Equal(2, summary.Images);
        Assert.Equal(["a.png", "c.png"], CliWorkspace.Entries(work.Output));
    }

    [Fact]
    public void EvaluateReportsTheFailedConfigurationAndImageAndKeepsTheOthers()
    {
        using var scope = NewDisposeScope();
        // Without biases and without a stabilizer, Epsilon divides 0 by 0 on an all-zero image: NaN at the dense layer.
        manual_seed(6);
        var model = nn.Sequential(("conv", nn.Conv2d(3, 4, 3, padding: 1, bias: false)), ("relu", nn.ReLU()), ("flatten", nn.Flatten()),
            ("fc", nn.Linear(4 * 8 * 8, 3, hasBias: false)));
        model.eval();
        Tensor inputs = Inputs();
        inputs[1] = zeros(3, 8, 8);
        var options = new EvaluationOptions
        {
            Perturbation = new PerturbationSettings { PatchSize = 4, Steps = 2 },
            Randomization = null,
            Targets = [0, 0, 0],
        };
        var configs = new[] { AttributionSpec.Parse("gradient"), AttributionSpec.Parse("epsilon_plus(epsilon=0,stabilizer=0)") };

        EvaluationReport report = Evaluator.Run(model, inputs, configs, options: options, imageNames: ["x.png", "y.png", "z.png"]);

        Assert.Equal(["gradient"], report.Configurations.Select(c => c.Config.Name));
        EvaluationFailure failure = Assert.Single(report.Failures);
        Assert.Equal(("epsilon_plus(epsilon=0,stabilizer=0)", "y.png"), (failure.Config, failure.Image));
        Assert.Contains("'fc'", failure.Reason, StringComparison.Ordinal);
    }

    private byte[] WhitePng()
    {
        string path = work.PathOf("white.png");
        using var scope = NewDisposeScope();
        ImageIO.SavePng(path, ones(3, 8, 8));
        byte[] bytes = File.ReadAllBytes(path);
        File.Delete(path);
        return bytes;
    }
}
