using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

public class ModuleOrderTests
{
    [Fact]
    public void ModulesAreListedDepthFirstAsPyTorchDoes()
    {
        var inner = nn.Sequential(("conv", nn.Conv2d(1, 2, 3)), ("relu", nn.ReLU()));
        var model = nn.Sequential(("features", inner), ("flatten", nn.Flatten()), ("classifier", nn.Linear(2, 2)));
        string[] names = model.NamedModulesWithRoot().Select(e => e.Name).ToArray();
        Assert.Equal(new[] { "", "features", "features.conv", "features.relu", "flatten", "classifier" }, names);
    }

    [Fact]
    public void TheFirstLayerOfANestedModelIsItsFirstConvolution()
    {
        var inner = nn.Sequential(("conv", nn.Conv2d(1, 2, 3)), ("relu", nn.ReLU()));
        var model = nn.Sequential(("features", inner), ("flatten", nn.Flatten()), ("classifier", nn.Linear(2, 2)));
        using CompositeRegistration registration = new EpsilonPlusFlat().Register(model);
        var rules = registration.Rules.ToDictionary(r => r.Name, r => r.Rule);
        Assert.IsType<Flat>(rules["features.conv"]);
        Assert.IsType<Epsilon>(rules["classifier"]);
    }

    [Fact]
    public void AModuleReachableUnderTwoNamesIsListedOnce()
    {
        var relu = nn.ReLU();
        var model = nn.Sequential(("a", relu), ("b", relu));
        Assert.Equal(new[] { "", "a" }, model.NamedModulesWithRoot().Select(e => e.Name).ToArray());
    }
}
