using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

/// <summary>
/// One ReLU instance called twice in one forward (as torchvision's ResNet blocks do) must get its rule applied to
/// each call with that call's own input and gradient, exactly as two separate ReLU instances would.
/// </summary>
public class ReusedModuleTests
{
    public enum Sharing
    {
        /// <summary>Two ReLU instances.</summary>
        Separate,

        /// <summary>One ReLU field, called twice (torchvision's ResNet blocks).</summary>
        OneField,

        /// <summary>One ReLU instance registered under two names (PyTorch lists it once).</summary>
        TwoNames,
    }

    private sealed class Net : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly Conv2d conv2;
        private readonly Linear fc;
        private readonly ReLU relu;
        private readonly ReLU? relu2;

        public Net(Sharing sharing) : base(nameof(Net))
        {
            conv1 = nn.Conv2d(2, 3, 3, padding: 1, dtype: ScalarType.Float64);
            conv2 = nn.Conv2d(3, 3, 3, padding: 1, dtype: ScalarType.Float64);
            fc = nn.Linear(48, 3, dtype: ScalarType.Float64);
            relu = nn.ReLU();
            relu2 = sharing switch
            {
                Sharing.Separate => nn.ReLU(),
                Sharing.TwoNames => relu,
                _ => null,
            };
            RegisterComponents();
            TestNets.Fill(this, 71);
        }

        public override Tensor forward(Tensor input)
        {
            Tensor hidden = relu.call(conv1.call(input));
            return fc.call((relu2 ?? relu).call(conv2.call(hidden)).flatten(1));
        }
    }

    private static int DistinctModules(nn.Module model) => model.modules().Distinct(ReferenceEqualityComparer.Instance).Count();

    public static TheoryData<string, Sharing> Composites()
    {
        var data = new TheoryData<string, Sharing>();
        foreach (string name in new[] { "beta_smooth", "guided_backprop", "deconvnet", "epsilon_gamma_box", "custom", "halve" })
        {
            data.Add(name, Sharing.OneField);
            data.Add(name, Sharing.TwoNames);
        }
        return data;
    }

    private static Composite Create(string name) => name switch
    {
        "epsilon_gamma_box" => new EpsilonGammaBox(-2.0, 2.0),
        // Input-dependent rules on both sides of the ReLU, so a mix-up of the two calls changes the result.
        "custom" => new LayerMapComposite(new (ModuleMatcher, Rule)[]
        {
            (LayerTypes.ReLU, new ReLUBetaSmooth(1.5)),
            (LayerTypes.Convolution, new RelevanceSharp.Rules.Gamma(0.5)),
            (LayerTypes.Dense, new Epsilon(0.1)),
        }),
        // A rule that builds on the gradient it receives: applied twice to one call, it would halve twice.
        "halve" => new LayerMapComposite(new (ModuleMatcher, Rule)[] { (LayerTypes.ReLU, new Halve()) }),
        _ => CompositeRegistry.Create(name),
    };

    private sealed class Halve : Rule
    {
        public override Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput) => gradInput.mul(Scalars.Of(0.5));

        public override string ToString() => "Halve";
    }

    [Theory]
    [MemberData(nameof(Composites))]
    public void SharedReLUMatchesSeparateReLUs(string composite, Sharing sharing)
    {
        using var scope = NewDisposeScope();
        var shared = new Net(sharing);
        var separate = new Net(Sharing.Separate);
        Assert.Equal(5, DistinctModules(separate));
        Assert.Equal(4, DistinctModules(shared));
        Tensor x = TestNets.Input(72);
        using AttributionResult expected = new Gradient(separate, Create(composite)).Attribute(x, AttributionTarget.Class(1));
        using AttributionResult actual = new Gradient(shared, Create(composite)).Attribute(x, AttributionTarget.Class(1));
        AssertClose(D(expected.Output), actual.Output, 0.0, "output");
        AssertClose(D(expected.Relevance), actual.Relevance, 1e-13, "relevance");
        ModelSnapshot.AssertNoHooks(shared, "after attributing the shared model");
    }

    [Fact]
    public void TheRuleChangesTheResultSoTheComparisonMeansSomething()
    {
        using var scope = NewDisposeScope();
        var shared = new Net(Sharing.OneField);
        Tensor x = TestNets.Input(72);
        using AttributionResult plain = new Gradient(shared).Attribute(x, AttributionTarget.Class(1));
        using AttributionResult smooth = new Gradient(shared, Create("custom")).Attribute(x, AttributionTarget.Class(1));
        Assert.True(D(plain.Relevance).Zip(D(smooth.Relevance), (a, b) => Math.Abs(a - b)).Max() > 1e-3);
    }

    [Theory]
    [InlineData(Sharing.OneField)]
    [InlineData(Sharing.TwoNames)]
    public void SharedReLUIsRegisteredOnce(Sharing sharing)
    {
        using var scope = NewDisposeScope();
        var shared = new Net(sharing);
        using CompositeRegistration registration = new BetaSmooth().Register(shared);
        Assert.Single(registration.Rules);
        Assert.Equal(1, ModuleHooks.Count(shared.modules().OfType<ReLU>().First()));
    }
}
