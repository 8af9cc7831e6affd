using RelevanceSharp.Canonizers;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Canonizers;

/// <summary>The ThreshReLU function against its definition written out with a mask, values and gradients.</summary>
public class ThreshReLUTests
{
    /// <summary>x where scale * x + shift &gt; 0, -shift / scale elsewhere, 0 in channels with scale 0.</summary>
    private static Tensor Definition(Tensor x, Tensor scale, Tensor shift)
    {
        Tensor s = scale.view(1, -1, 1);
        Tensor b = shift.view(1, -1, 1);
        Tensor alive = s.ne(Scalars.Of(0.0));
        Tensor keep = ((x * s).add(b, Scalars.One)).gt(Scalars.Of(0.0)).logical_and(alive);
        Tensor threshold = where(alive, -b / where(alive, s, ones_like(s)), zeros_like(s));
        return where(keep, x, threshold);
    }

    private static (Tensor Value, Tensor Gradient) Run(Func<Tensor, Tensor> function, Tensor x, Tensor seed)
    {
        using var grad = enable_grad();
        Tensor input = x.detach().requires_grad_(true);
        Tensor value = function(input);
        Tensor gradient = autograd.grad(new[] { value }, new[] { input }, new[] { seed })[0];
        return (value.detach(), gradient);
    }

    [Theory]
    [InlineData(new[] { 0.5, 2.0, 1.25 })]
    [InlineData(new[] { 0.5, -2.0, 0.0 })]
    public void MatchesTheMaskedDefinitionAlsoAtTheThreshold(double[] scales)
    {
        manual_seed(11);
        Tensor scale = tensor(scales, ScalarType.Float64);
        Tensor shift = tensor(new[] { -0.5, 1.0, 0.0 }, ScalarType.Float64);
        Tensor x = randn(new long[] { 4, 3, 10 }, ScalarType.Float64);
        // Inputs exactly at each channel's threshold (x = 1, x = -0.5 or 0.5 by the sign of the second scale, x = 0):
        // the masked form outputs the threshold there and passes no gradient.
        x[.., 0, 0] = tensor(1.0, ScalarType.Float64);
        x[.., 1, 0] = tensor(-1.0 / scales[1], ScalarType.Float64);
        x[.., 2, 0] = tensor(0.0, ScalarType.Float64);
        Tensor seed = randn(new long[] { 4, 3, 10 }, ScalarType.Float64);

        var (expected, expectedGradient) = Run(t => Definition(t, scale, shift), x, seed);
        var (actual, actualGradient) = Run(t => ThreshReLU.Compute(t, scale, shift), x, seed);

        Assert.True(actual.eq(expected).all().item<bool>(), "values differ");
        Assert.True(actualGradient.eq(expectedGradient).all().item<bool>(), "gradients differ");
        Assert.True(actualGradient[.., 0, 0].eq(Scalars.Of(0.0)).all().item<bool>());
        Assert.True(actualGradient[.., 1, 0].eq(Scalars.Of(0.0)).all().item<bool>());
    }
}
