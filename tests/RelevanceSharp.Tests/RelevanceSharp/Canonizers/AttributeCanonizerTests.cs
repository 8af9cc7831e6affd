using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Layers;
using RelevanceSharp.Rules;
using RelevanceSharp.Tests.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Canonizers;

/// <summary>
/// zennit's AttributeCanonizer on a user's own residual block, whose addition a switch routes through a Sum module,
/// and composites built from a function.
/// </summary>
public class AttributeCanonizerTests
{
    /// <summary>A user's residual-style block: two branches added with + unless the switch routes them through Sum.</summary>
    private sealed class TwoBranches : nn.Module<Tensor, Tensor>
    {
        private readonly Linear left;
        private readonly Linear right;
        private readonly Sum sum;

        public TwoBranches() : base(nameof(TwoBranches))
        {
            left = nn.Linear(4, 3, hasBias: false, dtype: ScalarType.Float64);
            right = nn.Linear(4, 3, hasBias: false, dtype: ScalarType.Float64);
            sum = new Sum(0);
            RegisterComponents();
        }

        public bool SumThroughModule { get; set; }

        public override Tensor forward(Tensor input)
        {
            Tensor a = left.call(input);
            Tensor b = right.call(input);
            return SumThroughModule ? sum.call(stack(new[] { a, b }, 0)) : a.add(b, Scalars.One);
        }
    }

    private static readonly AttributeCanonizer Switch = new("two_branches_sum",
        (_, module) => module is TwoBranches ? new Dictionary<string, object?> { ["SumThroughModule"] = true } : null);

    private static Composite EpsilonAndNorm(params ICanonizer[] canonizers) => new LayerMapComposite(
        [(LayerTypes.Dense, new Epsilon(1e-12)), (LayerTypes.Sum, new Norm())], canonizers);

    private static (Tensor Output, Tensor Relevance) Attribute(nn.Module<Tensor, Tensor> model, Composite composite)
    {
        manual_seed(2);
        Tensor input = rand(2, 4, ScalarType.Float64);
        using AttributionResult result = new Gradient(model, composite, AttributionTarget.Output).Attribute(input);
        return (result.Output.clone(), result.Relevance.clone());
    }

    [Fact]
    public void TheSwitchMakesTheSumVisibleSoThatRelevanceIsConserved()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var model = new TwoBranches();
        model.eval();
        // Without the canonizer the + is invisible: each branch gets the whole relevance, which doubles it.
        var (output, plain) = Attribute(model, EpsilonAndNorm());
        double total = output.sum().item<double>();
        Assert.Equal(2 * total, plain.sum().item<double>(), 6);
        // Through the Sum module, Norm splits relevance by the branches' contributions: conserved.
        var (canonizedOutput, canonized) = Attribute(model, EpsilonAndNorm(Switch));
        Assert.Equal(total, canonized.sum().item<double>(), 6);
        Assert.True(canonizedOutput.allclose(output, rtol: 0, atol: 1e-12), "the canonizer changed the function");
        Assert.False(model.SumThroughModule, "removal did not restore the switch");
    }

    [Fact]
    public void RemovalRestoresAndBadEntriesChangeNothing()
    {
        var model = new TwoBranches();
        using (Switch.Apply(model))
        {
            Assert.True(model.SumThroughModule);
        }
        Assert.False(model.SumThroughModule);

        var missing = new AttributeCanonizer("bad", (_, m) => m is TwoBranches ? new Dictionary<string, object?> { ["NoSuchSwitch"] = true } : null);
        Assert.Contains("no public settable property 'NoSuchSwitch'", Assert.Throws<ArgumentException>(() => missing.Apply(model)).Message, StringComparison.Ordinal);
        var mistyped = new AttributeCanonizer("bad", (_, m) => m is TwoBranches
            ? new Dictionary<string, object?> { ["SumThroughModule"] = true, ["training"] = "yes" }
            : null);
        Assert.Throws<ArgumentException>(() => mistyped.Apply(model));
        Assert.False(model.SumThroughModule, "a refused canonizer changed the model");
    }

    [Fact]
    public void AFunctionBuiltCompositeEqualsItsNamedTwin()
    {
        using var scope = NewDisposeScope();
        List<(ModuleMatcher Kind, Rule Rule)> map = [.. BaseLayerMap.Create(), (LayerTypes.Convolution, new ZPlus()), (LayerTypes.Dense, new Epsilon())];
        var function = new FunctionComposite((_, module) => map.FirstOrDefault(entry => entry.Kind.Matches(module)).Rule);
        Sequential model = TestNets.ConvReLUNet(5);
        Tensor input = TestNets.Input(6);
        using AttributionResult named = new Gradient(model, CompositeRegistry.Create("epsilon_plus")).Attribute(input);
        using AttributionResult built = new Gradient(model, function).Attribute(input);
        Assert.Equal(0.0, (named.Relevance - built.Relevance).abs().max().item<double>());
        Assert.True(named.Relevance.abs().sum().item<double>() > 0);
    }
}

/// <summary>Named composites take epsilon as a function of the layer's output, not only as a number.</summary>
public class EpsilonFunctionTests
{
    [Fact]
    public void ANamedCompositeUsesAnEpsilonFunctionOfTheOutput()
    {
        using var scope = NewDisposeScope();
        // A stabilizer scaled by each sample's mean absolute output: z + 0.25 * mean|z| * sign(z).
        Stabilizer scaled = Stabilizer.FromFunction(z =>
        {
            Tensor sign = z.sign().add(Scalars.Of(0.5), Scalars.One).sign();
            return z.add((sign * z.abs().mean(new long[] { -1 }, keepdim: true)).mul(Scalars.Of(0.25)), Scalars.One);
        });
        Sequential model = TestNets.ConvReLUNet(5);
        Tensor input = TestNets.Input(6);
        var map = new List<(ModuleMatcher Kind, Rule Rule)>([.. BaseLayerMap.Create(), (LayerTypes.Convolution, new ZPlus()), (LayerTypes.Dense, new Epsilon(scaled))]);
        using AttributionResult byHand = new Gradient(model, new LayerMapComposite(map)).Attribute(input);
        using AttributionResult named = new Gradient(model, new EpsilonPlus(epsilon: scaled)).Attribute(input);
        using AttributionResult constant = new Gradient(model, new EpsilonPlus()).Attribute(input);
        Assert.Equal(0.0, (named.Relevance - byHand.Relevance).abs().max().item<double>());
        Assert.True((named.Relevance - constant.Relevance).abs().max().item<double>() > 1e-6, "the function made no difference");
    }
}
