using RelevanceSharp.Attribution;
using RelevanceSharp.Core;
using RelevanceSharp.Vision.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Core;

public class ScalarsTests
{
    [Fact]
    public void EachValueIsOneScalarThatKeepsItsKind()
    {
        Assert.Same(Scalars.Of(0.25), Scalars.Of(0.25));
        Assert.Same(Scalars.One, Scalars.Of(1L));
        Assert.NotSame(Scalars.Of(0.0), Scalars.Of(-0.0));
        Assert.True(double.IsNegative(Scalars.Of(-0.0).ToDouble()));
        using Tensor counts = tensor(new long[] { 1, 2 });
        // An integer Scalar keeps an integer tensor integer, as TorchSharp's x.add(1) does.
        Assert.Equal(ScalarType.Int64, counts.add(Scalars.Of(1), Scalars.One).dtype);
        Assert.Equal(ScalarType.Float32, counts.add(Scalars.Of(0.5), Scalars.One).dtype);
    }

    [Fact]
    public void ThreshReLUAttributionsStayFiniteUnderCollection()
    {
        // The demo's densenet_thresh_seq attributions next to a collecting thread: before Scalars (and the repeat of a
        // non-finite result) about one in fifteen came out all NaN; a repeat (Attributor.Recomputed) is allowed, an
        // exception is not.
        using DenseNet model = DemoModel.Load(Path.Combine(TestPaths.RepositoryRoot, "assets", "demo"));
        var generator = new Generator(7);
        using Tensor input = randn(new long[] { 4, 1, 28, 28 }, generator: generator);
        using (GcStress.Start())
        {
            for (int i = 0; i < 12; i++)
            {
                AttributionSpec spec = AttributionSpec.Create(Gradient.Entry.Name, composite: "epsilon_gamma_box", canonizers: ["densenet_thresh_seq"]);
                Attributor attributor = spec.CreateAttributor(model, AttributionContext.ForInputs(DemoModel.InputBounds));
                using AttributionResult result = attributor.Attribute(input, attributor.ClassTarget([0, 1, 2, 3]));
                Assert.True(result.Relevance.isfinite().all().item<bool>());
            }
        }
    }
}
