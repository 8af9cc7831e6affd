using RelevanceSharp.Canonizers;
using RelevanceSharp.Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>
/// The dataflow canonizers find their patterns in imported graphs as in zoo models: every batch norm of the MobileNet-
/// and EfficientNet-style exports follows a convolution that nothing else reads, so the sequential merge takes all of
/// them (through asymmetric padding, depthwise convolutions, SiLU written as a product); the function does not change,
/// and removing the canonizer restores every parameter bit for bit.
/// </summary>
public sealed class CanonizerTests
{
    [Theory]
    [InlineData("mobilenet_style_opset13", 14)]
    [InlineData("efficientnet_style_opset11", 11)]
    public void SequentialMergeTakesEveryBatchNorm(string file, int batchNorms)
    {
        using var scope = NewDisposeScope();
        var (input, logits) = OnnxFiles.Reference(file);
        using OnnxModel model = OnnxModel.Load(OnnxFiles.PathOf(file));
        var norms = model.modules().OfType<BatchNorm>().ToList();
        Assert.Equal(batchNorms, norms.Count);
        var before = model.state_dict().ToDictionary(e => e.Key, e => e.Value.clone());
        using (no_grad())
        {
            using (new SequentialMergeBatchNorm(input).Apply(model))
            {
                // A merged batch norm computes the identity with eps 0.
                Assert.All(norms, n => Assert.Equal(0.0, n.eps));
                Support.AssertClose(Support.D(logits), model.forward(input), 1e-4, "canonized logits");
            }
            foreach (var (name, value) in model.state_dict())
            {
                Assert.True(value.equal(before[name]).all().item<bool>(), $"{name} was not restored exactly.");
            }
        }
    }
}
