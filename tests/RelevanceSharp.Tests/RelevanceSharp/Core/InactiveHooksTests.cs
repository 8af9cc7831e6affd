using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using TorchSharp;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

public class InactiveHooksTests
{
    private static double[] GradientOf(nn.Module<Tensor, Tensor> model, Tensor x, Tensor seed)
    {
        using var grad = enable_grad();
        Tensor input = x.clone().requires_grad_(true);
        Tensor gradient = autograd.grad(new[] { model.call(input) }, new[] { input }, new[] { seed })[0];
        BackwardFailures.ThrowIfAny();
        return D(gradient);
    }

    [Theory]
    [InlineData("epsilon_gamma_box")]
    [InlineData("epsilon_alpha2_beta1_flat")]
    [InlineData("guided_backprop")]
    public void WithinInactiveTheAttributionIsThePlainGradient(string name)
    {
        using var scope = NewDisposeScope();
        var model = TestNets.ConvBatchNormNet(61);
        Tensor x = TestNets.Input(62);
        Tensor seed = T(new[] { 0.0, 1.0, 0.0, 0.0, 1.0, 0.0 }, 2, 3);
        double[] plain = GradientOf(model, x, seed);

        Composite composite = name == "epsilon_gamma_box" ? new EpsilonGammaBox(-2.0, 2.0) : CompositeRegistry.Create(name);
        using CompositeRegistration registration = composite.Register(model);
        double[] modified = GradientOf(model, x, seed);
        Assert.True(plain.Zip(modified, (a, b) => Math.Abs(a - b)).Max() > 1e-3, "the composite should change the gradient");
        using (registration.Inactive())
        {
            AssertClose(plain, GradientOf(model, x, seed), 0.0, "inactive");
        }
        AssertClose(modified, GradientOf(model, x, seed), 0.0, "active again");
    }

    [Fact]
    public void AnInPlaceReLUUnderARuleActsAsAnOutOfPlaceOne()
    {
        // The hook computes an in-place ReLU's result out of place (the module itself runs on an empty slice): the
        // same relevance as with an out-of-place ReLU, the input left intact, and the module's own gradient when the
        // hooks are inactive.
        using var scope = NewDisposeScope();
        TorchSharp.Modules.Sequential Net(bool inplace)
        {
            manual_seed(81);
            return nn.Sequential(("0", nn.Linear(4, 5, dtype: ScalarType.Float64)), ("1", nn.ReLU(inplace)),
                ("2", nn.Linear(5, 3, dtype: ScalarType.Float64)));
        }
        var inPlace = Net(true);
        var outOfPlace = Net(false);
        manual_seed(82);
        Tensor x = randn(new long[] { 6, 4 }, ScalarType.Float64);
        Tensor seed = randn(new long[] { 6, 3 }, ScalarType.Float64);
        double[] plain = GradientOf(outOfPlace, x, seed);

        using CompositeRegistration reference = new EpsilonPlus().Register(outOfPlace);
        double[] expected = GradientOf(outOfPlace, x, seed);
        using CompositeRegistration registration = new EpsilonPlus().Register(inPlace);
        AssertClose(expected, GradientOf(inPlace, x, seed), 0.0, "relevance");
        using (registration.Inactive())
        {
            AssertClose(plain, GradientOf(inPlace, x, seed), 0.0, "inactive");
        }
        using (no_grad())
        {
            Assert.True(inPlace.call(x).eq(outOfPlace.call(x)).all().item<bool>());
        }
    }

    [Fact]
    public void InactiveNests()
    {
        using var scope = NewDisposeScope();
        var model = TestNets.ConvBatchNormNet(63);
        using CompositeRegistration registration = new EpsilonPlus().Register(model);
        IDisposable outer = registration.Inactive();
        IDisposable inner = registration.Inactive();
        inner.Dispose();
        inner.Dispose();
        Assert.False(registration.Activity.IsActive);
        outer.Dispose();
        Assert.True(registration.Activity.IsActive);
    }
}
