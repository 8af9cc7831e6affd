using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Tests.Engine;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Attribution;

/// <summary>Bad input gives an exception that names the problem, and leaves the model as it was.</summary>
public class BadInputTests
{
    private static void AssertRefused(Tensor input, string[] phrases, AttributionTarget? target = null)
    {
        Sequential model = TestNets.ConvBatchNormNet(101);
        var snapshot = ModelSnapshot.Take(model);
        var attributor = new Gradient(model, new EpsilonGammaBox(-2.0, 2.0));
        Exception ex = Assert.ThrowsAny<ArgumentException>(() => attributor.Attribute(input, target ?? AttributionTarget.Class(0)));
        foreach (string phrase in phrases)
        {
            Assert.True(ex.Message.Contains(phrase, StringComparison.Ordinal), $"'{phrase}' is missing from: {ex.Message}");
        }
        snapshot.AssertUnchanged(model, "after a refused input");
        // The model still works.
        using AttributionResult result = attributor.Attribute(TestNets.Input(102), AttributionTarget.Class(0));
        snapshot.AssertUnchanged(model, "after the next attribution");
    }

    [Fact]
    public void InputOfTheWrongRankNamesTheShapeAndWhatTheModelExpects()
    {
        using var scope = NewDisposeScope();
        AssertRefused(T(Values(32, 1), 2, 4, 4), new[] { "[2, 4, 4]", "expects input of shape (N, 2, H, W)" });
    }

    [Fact]
    public void InputWithTheWrongChannelCountNamesTheShapeAndWhatTheModelExpects()
    {
        using var scope = NewDisposeScope();
        AssertRefused(T(Values(48, 2), 1, 3, 4, 4), new[] { "[1, 3, 4, 4]", "Conv2d(2 -> 3)", "(N, 2, H, W)" });
    }

    [Fact]
    public void InputOfTheWrongSpatialSizeNamesTheShape()
    {
        // The convolutions accept 6 x 6, but then the linear layer gets 36 features per channel instead of 4.
        using var scope = NewDisposeScope();
        AssertRefused(T(Values(72, 3), 1, 2, 6, 6), new[] { "[1, 2, 6, 6]" });
    }

    [Fact]
    public void NaNInTheInputIsNamed()
    {
        using var scope = NewDisposeScope();
        double[] values = Values(64, 4);
        values[5] = double.NaN;
        values[40] = double.NaN;
        AssertRefused(T(values, 2, 2, 4, 4), new[] { "2 NaN" });
    }

    [Fact]
    public void InfinityInTheInputIsNamed()
    {
        using var scope = NewDisposeScope();
        double[] values = Values(64, 5);
        values[7] = double.NegativeInfinity;
        AssertRefused(T(values, 2, 2, 4, 4), new[] { "infinite" });
    }

    [Fact]
    public void IntegerInputIsRefused()
    {
        using var scope = NewDisposeScope();
        AssertRefused(ones(new long[] { 2, 2, 4, 4 }, ScalarType.Int64), new[] { "floating-point", "Int64" });
    }

    [Fact]
    public void ATargetClassOutOfRangeNamesTheClassAndTheNumberOfOutputs()
    {
        using var scope = NewDisposeScope();
        AssertRefused(TestNets.Input(103), new[] { "7", "3 outputs" }, AttributionTarget.Class(7));
    }

    [Fact]
    public void InputOfTheWrongWidthForADenseModelNamesTheLayer()
    {
        using var scope = NewDisposeScope();
        var model = Linear(new double[,] { { 1.0, 2.0, 3.0, 4.0 }, { 0.5, 0.5, 0.5, 0.5 } }, new[] { 0.0, 1.0 });
        var snapshot = ModelSnapshot.Take(model);
        var ex = Assert.ThrowsAny<ArgumentException>(() => new Gradient(model, new EpsilonPlus()).Attribute(T(Values(10, 6), 2, 5), AttributionTarget.Class(0)));
        Assert.True(ex.Message.Contains("[2, 5]", StringComparison.Ordinal) && ex.Message.Contains("Linear(4 -> 2), expects input of shape (N, 4)", StringComparison.Ordinal), ex.Message);
        snapshot.AssertUnchanged(model, "after a refused input");
    }

    /// <summary>A parameterized module the engine has no functional form for.</summary>
    private sealed class Scale : TorchSharp.torch.nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.Parameter factor = new(ones(4, dtype: ScalarType.Float64));

        public Scale() : base(nameof(Scale)) => RegisterComponents();

        public override Tensor forward(Tensor input) => input * factor;
    }

    [Fact]
    public void ARuleOnALayerTheEngineCannotRecomputeIsRefusedByName()
    {
        using var scope = NewDisposeScope();
        var model = TorchSharp.torch.nn.Sequential(("0", new Scale()), ("1", TorchSharp.torch.nn.Linear(4, 2, dtype: ScalarType.Float64)));
        var snapshot = ModelSnapshot.Take(model);
        // ZPlus must recompute the layer with clamped weights (Epsilon would reuse the forward pass and work).
        var composite = new NameMapComposite(new (IReadOnlyCollection<string>, RelevanceSharp.Core.Rule)[] { (new[] { "0" }, new RelevanceSharp.Rules.ZPlus()) });
        var ex = Assert.ThrowsAny<NotSupportedException>(() => new Gradient(model, composite).Attribute(T(Values(8, 7), 2, 4), AttributionTarget.Class(0)));
        Assert.True(ex.Message.Contains("Scale", StringComparison.Ordinal) && ex.Message.Contains("IFunctionalLayer", StringComparison.Ordinal), ex.Message);
        snapshot.AssertUnchanged(model, "after a refused rule");
    }

    /// <summary>Cuts the graph: its output does not require grad.</summary>
    private sealed class Detaching : TorchSharp.torch.nn.Module<Tensor, Tensor>
    {
        public Detaching() : base(nameof(Detaching))
        {
        }

        public override Tensor forward(Tensor input) => input.detach().mul(Scalars.Of(2.0));
    }

    /// <summary>Ignores its input: the output requires grad (through a parameter) but does not use the input.</summary>
    private sealed class IgnoresInput : TorchSharp.torch.nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.Parameter bias = new(ones(1, 3, dtype: ScalarType.Float64));

        public IgnoresInput() : base(nameof(IgnoresInput)) => RegisterComponents();

        public override Tensor forward(Tensor input) => bias.expand(input.shape[0], 3).mul(Scalars.Of(1.0));
    }

    [Fact]
    public void AModelWithoutAGradientIsRefusedInsteadOfAbortingTheProcess()
    {
        // libtorch's error for these would escape TorchSharp's autograd.grad and abort the test host.
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<InvalidOperationException>(() => new Gradient(new Detaching()).Attribute(T(Values(6, 8), 2, 3), AttributionTarget.Class(0)));
        Assert.Contains("does not require grad", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<InvalidOperationException>(() => new Gradient(new IgnoresInput()).Attribute(T(Values(6, 9), 2, 3), AttributionTarget.Class(1)));
        Assert.Contains("does not depend on the input", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>A layer whose functional form (used by rules) is not differentiable in its input.</summary>
    private sealed class BrokenFunctional : TorchSharp.torch.nn.Module<Tensor, Tensor>, RelevanceSharp.Core.IFunctionalLayer
    {
        public BrokenFunctional() : base(nameof(BrokenFunctional))
        {
        }

        public override Tensor forward(Tensor input) => input.mul(Scalars.Of(2.0));

        public IReadOnlyDictionary<string, Tensor?> GetParameters() => new Dictionary<string, Tensor?>();

        public Tensor Forward(Tensor input, IReadOnlyDictionary<string, Tensor?> parameters) => input.detach().mul(Scalars.Of(2.0));
    }

    [Fact]
    public void ARuleWhoseRecomputationHasNoGraphIsRefusedInsteadOfAbortingTheProcess()
    {
        using var scope = NewDisposeScope();
        var model = TorchSharp.torch.nn.Sequential(("0", new BrokenFunctional()), ("1", TorchSharp.torch.nn.Linear(3, 2, dtype: ScalarType.Float64)));
        var snapshot = ModelSnapshot.Take(model);
        var composite = new NameMapComposite(new (IReadOnlyCollection<string>, RelevanceSharp.Core.Rule)[] { (new[] { "0" }, new RelevanceSharp.Rules.ZPlus()) });
        var ex = Assert.Throws<InvalidOperationException>(() => new Gradient(model, composite).Attribute(T(Values(6, 10), 2, 3), AttributionTarget.Class(0)));
        Assert.True(ex.Message.Contains("BrokenFunctional", StringComparison.Ordinal) && ex.Message.Contains("without a graph", StringComparison.Ordinal), ex.Message);
        snapshot.AssertUnchanged(model, "after a refused rule");
    }

    [Fact]
    public void AnUnknownCompositeNameIsNamedWithTheKnownOnes()
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => CompositeRegistry.Create("epsilon_gama_box"));
        Assert.Contains("'epsilon_gama_box'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("epsilon_gamma_box", ex.Message, StringComparison.Ordinal);
        Assert.Contains("excitation_backprop", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownCompositeArgumentIsNamed()
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => CompositeRegistry.Create("epsilon_plus", ArgumentReader.Parse(new[] { "epsilonn=0.1" })));
        Assert.Contains("'epsilonn'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("epsilon", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingRequiredCompositeArgumentIsNamed()
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => CompositeRegistry.Create("epsilon_gamma_box", ArgumentReader.Parse(new[] { "high=3" })));
        Assert.Contains("'low'", ex.Message, StringComparison.Ordinal);
    }
}
