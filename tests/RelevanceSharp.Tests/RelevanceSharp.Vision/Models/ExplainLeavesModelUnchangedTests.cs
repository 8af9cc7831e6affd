using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Conformance;
using RelevanceSharp.Core;
using RelevanceSharp.Vision.IO;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Models;

public class ExplainLeavesModelUnchangedTests
{
    public static IEnumerable<object[]> Composites() => new[]
    {
        new object[] { "epsilon_gamma_box" },
        new object[] { "epsilon_plus_flat" },
        new object[] { "epsilon_alpha2_beta1" },
        new object[] { "excitation_backprop" },
    };

    [Theory]
    [MemberData(nameof(Composites))]
    public void DenseNetFromACheckpointIsBitExactAfterwards(string composite)
    {
        using var scope = NewDisposeScope();
        using var model = (DenseNet)Architectures.Load(TestPaths.ConformancePath("pth", "model.json"));
        Checkpoint.Load(model, TestPaths.ConformancePath("pth", "densenet_tiny.pth"));

        ExplainAndCompare(model, composite, randn(2, 3, 32, 32), () => model.ExplicitHead = !model.ExplicitHead);
    }

    [Theory]
    [MemberData(nameof(Composites))]
    public void ResNetFromACheckpointIsBitExactAfterwards(string composite)
    {
        using var scope = NewDisposeScope();
        using var model = (ResNet)Architectures.Load(TestPaths.ConformancePath("resnet_basic_tiny", "model.json"));
        Checkpoint.Load(model, TestPaths.ConformancePath("resnet_basic_tiny", "weights.safetensors"));

        ExplainAndCompare(model, composite, randn(2, 3, 32, 32), () => model.UseSumModules = !model.UseSumModules);
    }

    // Explains with the model as it is and with its switch flipped, and checks that every parameter and buffer is
    // the same object with the same native tensor and the same bits, and that no hook is left behind.
    private static void ExplainAndCompare(ZooModel model, string composite, Tensor input, Action flipSwitch)
    {
        var before = model.state_dict().Select(e => (e.Key, Tensor: e.Value, e.Value.Handle, Copy: e.Value.detach().clone())).ToList();
        var modules = model.named_modules().Select(m => m.name).ToList();
        Tensor output;
        using (no_grad())
        {
            output = model.call(input);
        }

        foreach (bool flipped in new[] { false, true })
        {
            if (flipped)
            {
                flipSwitch();
            }
            Composite chosen = CompositeRegistry.Create(composite, ArgumentReader.Parse(composite == "epsilon_gamma_box" ? new[] { "low=-3", "high=3" } : Array.Empty<string>()), Array.Empty<RelevanceSharp.Canonizers.ICanonizer>());
            using AttributionResult result = new Gradient(model, chosen, AttributionTarget.Class(1)).Attribute(input);
            Assert.True(isfinite(result.Relevance).all().item<bool>());
            Assert.True(result.Output.allclose(output, rtol: 1e-5, atol: 1e-6));
        }
        flipSwitch();

        var after = model.state_dict().ToList();
        Assert.Equal(before.Select(b => b.Key), after.Select(a => a.Key));
        foreach (var ((name, tensor, handle, copy), current) in before.Zip(after))
        {
            Assert.Same(tensor, current.Value);
            Assert.Equal(handle, current.Value.Handle);
            Assert.Equal(copy.dtype, current.Value.dtype);
            Assert.True(copy.bytes.SequenceEqual(current.Value.bytes), name);
        }
        Assert.Equal(modules, model.named_modules().Select(m => m.name));
        Assert.All(model.modules(), m => Assert.Equal(0, ModuleHooks.Count(m)));
        using (no_grad())
        {
            Assert.True(output.eq(model.call(input)).all().item<bool>());
        }
    }
}
