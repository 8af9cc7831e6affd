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
/// Parameters and buffers stay the same objects with the same bits, and no hook is left behind, after an
/// attribution, after removing a registration, and after an exception inside the forward or backward pass.
/// </summary>
public class ModelIntegrityTests
{
    public static TheoryData<string> CompositeNames => new()
    {
        "epsilon_gamma_box", "epsilon_plus", "epsilon_alpha2_beta1", "epsilon_plus_flat", "epsilon_alpha2_beta1_flat",
        "deconvnet", "guided_backprop", "excitation_backprop", "beta_smooth",
    };

    private static Composite Named(string name) => name == "epsilon_gamma_box"
        ? new EpsilonGammaBox(-2.0, 2.0)
        : CompositeRegistry.Create(name);

    [Theory]
    [MemberData(nameof(CompositeNames))]
    public void AttributionLeavesParametersAndBuffersUntouched(string composite)
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvBatchNormNet(51);
        var snapshot = ModelSnapshot.Take(model);
        var conv = (Conv2d)model[0];
        var norm = (BatchNorm2d)model[1];
        Tensor weight = snapshot["0.weight"], mean = snapshot["1.running_mean"];
        Assert.True(ReferenceEquals(weight, conv.weight));
        Assert.True(ReferenceEquals(mean, norm.running_mean));

        using (AttributionResult result = new Gradient(model, Named(composite)).Attribute(TestNets.Input(52), AttributionTarget.Class(1)))
        {
            Assert.DoesNotContain(D(result.Relevance), double.IsNaN);
        }
        snapshot.AssertUnchanged(model, $"after attributing with {composite}");
        // The module's own properties still hand out the very same objects.
        Assert.True(ReferenceEquals(weight, conv.weight));
        Assert.True(ReferenceEquals(snapshot["0.bias"], conv.bias));
        Assert.True(ReferenceEquals(snapshot["1.weight"], norm.weight));
        Assert.True(ReferenceEquals(mean, norm.running_mean));
        Assert.True(ReferenceEquals(snapshot["1.running_var"], norm.running_var));
        Assert.True(ReferenceEquals(snapshot["1.num_batches_tracked"], norm.num_batches_tracked));
    }

    [Fact]
    public void RegisterThenDisposeRestoresTheModelAndRemovesEveryHook()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvBatchNormNet(53);
        var snapshot = ModelSnapshot.Take(model);
        CompositeRegistration registration = new EpsilonGammaBox(-2.0, 2.0).Register(model);
        // Rules on both convolutions, the linear layer, the batch norm, both ReLUs and the pool.
        Assert.Equal(7, registration.Rules.Count);
        Assert.Equal(1, ModuleHooks.Count((nn.Module)model[0]));
        Assert.Equal(0, ModuleHooks.Count((nn.Module)model[6]));
        using (var grad = enable_grad())
        {
            Tensor x = TestNets.Input(54).requires_grad_(true);
            autograd.grad(new[] { model.call(x) }, new[] { x }, new[] { ones(2, 3, dtype: ScalarType.Float64) });
        }
        BackwardFailures.ThrowIfAny();
        registration.Dispose();
        snapshot.AssertUnchanged(model, "after Dispose of the registration");
        registration.Dispose();
        snapshot.AssertUnchanged(model, "after a second Dispose");
    }

    [Fact]
    public void ARegistrationThatIsNeverRunIsRemovedCleanly()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvBatchNormNet(55);
        var snapshot = ModelSnapshot.Take(model);
        new EpsilonPlusFlat().Register(model).Dispose();
        snapshot.AssertUnchanged(model, "after registering and removing");
    }

    /// <summary>Passes its input through; throws on its second call.</summary>
    private sealed class ThrowOnSecondCall : nn.Module<Tensor, Tensor>
    {
        private int calls;

        public ThrowOnSecondCall() : base(nameof(ThrowOnSecondCall))
        {
        }

        public override Tensor forward(Tensor input)
        {
            if (++calls == 2)
            {
                throw new InvalidOperationException("second call refused");
            }
            return input.mul(Scalars.Of(1.0));
        }
    }

    private static (Sequential Model, Composite Composite) ModelThatThrowsOnItsSecondForward()
    {
        Sequential model = TestNets.Fill(nn.Sequential(
            ("0", nn.Conv2d(2, 3, 3, padding: 1, dtype: ScalarType.Float64)),
            ("1", nn.BatchNorm2d(3, dtype: ScalarType.Float64)),
            ("2", nn.ReLU()),
            ("3", new ThrowOnSecondCall()),
            ("4", nn.Flatten()),
            ("5", nn.Linear(48, 3, dtype: ScalarType.Float64))), 56);
        model.eval();
        // The throwing module gets a rule of its own, so its hooks are open when it throws.
        var composite = new MixedComposite(new Composite[]
        {
            new NameMapComposite(new (IReadOnlyCollection<string>, Rule)[] { (new[] { "3" }, new Pass()) }),
            new EpsilonGammaBox(-2.0, 2.0),
        });
        return (model, composite);
    }

    [Fact]
    public void AnExceptionInsideTheForwardLeavesTheModelRestored()
    {
        using var scope = NewDisposeScope();
        var (model, composite) = ModelThatThrowsOnItsSecondForward();
        var snapshot = ModelSnapshot.Take(model);
        var attributor = new Gradient(model, composite);
        Tensor x = TestNets.Input(57);

        using AttributionResult first = attributor.Attribute(x, AttributionTarget.Class(0));
        var ex = Assert.Throws<InvalidOperationException>(() => attributor.Attribute(x, AttributionTarget.Class(0)));
        Assert.Equal("second call refused", ex.Message);
        snapshot.AssertUnchanged(model, "after an exception in the forward pass");

        // Nothing of the failed call lingers: the next attribution gives the same answer as the first.
        using AttributionResult third = attributor.Attribute(x, AttributionTarget.Class(0));
        AssertClose(D(first.Relevance), third.Relevance, 0.0);
        snapshot.AssertUnchanged(model, "after the next attribution");
    }

    [Fact]
    public void AnExceptionInsideAScopeLeavesTheModelRestoredWhenTheScopeCloses()
    {
        using var scope = NewDisposeScope();
        var (model, composite) = ModelThatThrowsOnItsSecondForward();
        var snapshot = ModelSnapshot.Take(model);
        var attributor = new Gradient(model, composite);
        Tensor x = TestNets.Input(58);
        double[] firstRelevance, thirdRelevance;
        using (attributor.Scope())
        {
            using (AttributionResult first = attributor.Attribute(x, AttributionTarget.Class(2)))
            {
                firstRelevance = D(first.Relevance);
            }
            Assert.Throws<InvalidOperationException>(() => attributor.Attribute(x, AttributionTarget.Class(2)));
            Assert.Equal(1, ModuleHooks.Count((nn.Module)model[3]));
            using (AttributionResult third = attributor.Attribute(x, AttributionTarget.Class(2)))
            {
                thirdRelevance = D(third.Relevance);
            }
        }
        AssertClose(firstRelevance, thirdRelevance, 0.0);
        snapshot.AssertUnchanged(model, "after closing a scope that saw an exception");
    }

    /// <summary>A rule that fails in the backward pass.</summary>
    private sealed class FailingRule : Rule
    {
        public override Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput) =>
            throw new InvalidOperationException("rule failed on purpose");

        public override string ToString() => "FailingRule";
    }

    /// <summary>A rule whose tensor arithmetic libtorch refuses (a view of a shape the tensor cannot take).</summary>
    private sealed class LibTorchFailingRule : Rule
    {
        public override Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput) =>
            gradInput.view(7, -1);

        public override string ToString() => "LibTorchFailingRule";
    }

    [Fact]
    public void ALibTorchErrorInsideARuleIsNotReportedAsTheModelRefusingTheInput()
    {
        // The model takes this input: an error that libtorch raises in a rule's backward step is the rule's, and must
        // reach the caller as it is, not as "the model cannot process an input of shape ...".
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvBatchNormNet(61);
        var failing = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (LayerTypes.ReLU, new LibTorchFailingRule()), (LayerTypes.Linear, new Epsilon()) });
        var ex = Assert.Throws<System.Runtime.InteropServices.ExternalException>(
            () => new Gradient(model, failing).Attribute(TestNets.Input(62), AttributionTarget.Class(0)));
        Assert.Contains("is invalid for input of size", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnExceptionInsideARuleIsRethrownAndLeavesTheModelRestored()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvBatchNormNet(59);
        var snapshot = ModelSnapshot.Take(model);
        var failing = new LayerMapComposite(new (ModuleMatcher, Rule)[] { (LayerTypes.ReLU, new FailingRule()), (LayerTypes.Linear, new Epsilon()) });
        var ex = Assert.Throws<InvalidOperationException>(() => new Gradient(model, failing).Attribute(TestNets.Input(60), AttributionTarget.Class(0)));
        Assert.Equal("rule failed on purpose", ex.Message);
        snapshot.AssertUnchanged(model, "after a rule failed");
        // The failure was reported once, not left behind for the next attribution.
        BackwardFailures.ThrowIfAny();
        using AttributionResult next = new Gradient(model, new EpsilonPlus()).Attribute(TestNets.Input(60), AttributionTarget.Class(0));
        snapshot.AssertUnchanged(model, "after the next attribution");
    }
}
