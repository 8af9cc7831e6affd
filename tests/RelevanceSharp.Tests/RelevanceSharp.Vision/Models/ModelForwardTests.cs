using RelevanceSharp.Layers;
using RelevanceSharp.Vision.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Models;

public class ModelForwardTests
{
    [Theory]
    [InlineData("densenet121", 224, 224)]
    [InlineData("densenet121", 97, 131)]
    [InlineData("resnet18", 224, 224)]
    [InlineData("resnet18", 97, 131)]
    [InlineData("resnext50_32x4d", 224, 224)]
    [InlineData("resnext50_32x4d", 97, 131)]
    [InlineData("vgg11_bn", 224, 224)]
    [InlineData("vgg11_bn", 97, 131)]
    [InlineData("vgg11", 33, 35)]
    public void OutputHasOneRowPerSampleAndOneColumnPerClass(string name, long height, long width)
    {
        using var scope = NewDisposeScope();
        using ZooModel model = ModelZoo.Create(name, numClasses: 10);
        using var noGrad = no_grad();

        long batch = height == 224 ? 1 : 2;

        Tensor output = model.call(randn(batch, 3, height, width));

        Assert.Equal(new long[] { batch, 10 }, output.shape);
        Assert.True(isfinite(output).all().item<bool>());
    }

    [Theory]
    [InlineData(1, 17, 23)]
    [InlineData(3, 64, 48)]
    public void SmallCustomNetworksTakeOddSizes(long batch, long height, long width)
    {
        using var scope = NewDisposeScope();
        using var densenet = new DenseNet(8, new long[] { 2, 2 }, 16, 2, numClasses: 4);
        using var resnet = new ResNet(ResNetBlockKind.Bottleneck, new long[] { 1, 1, 1, 1 }, numClasses: 4, groups: 2, widthPerGroup: 16);
        densenet.eval();
        resnet.eval();
        using var noGrad = no_grad();
        Tensor input = randn(batch, 3, height, width);

        Assert.Equal(new long[] { batch, 4 }, densenet.call(input).shape);
        Assert.Equal(new long[] { batch, 4 }, resnet.call(input).shape);
    }

    [Fact]
    public void ExplicitDenseNetHeadComputesTheSameAndCanBeSwitchedBack()
    {
        using var scope = NewDisposeScope();
        using var model = new DenseNet(8, new long[] { 2, 2 }, 16, 2, numClasses: 5);
        model.eval();
        var keys = model.state_dict().Keys.ToList();
        Tensor input = randn(2, 3, 40, 36);
        var calls = new List<string>();
        model.HeadReLU.register_forward_hook((m, i, o) => { calls.Add("relu"); return o; });
        model.HeadPool.register_forward_hook((m, i, o) => { calls.Add("pool"); return o; });
        using var noGrad = no_grad();

        Tensor functional = model.call(input);
        Assert.Empty(calls);
        model.ExplicitHead = true;
        Tensor explicitHead = model.call(input);
        Assert.Equal(new[] { "relu", "pool" }, calls);
        model.ExplicitHead = false;
        Tensor restored = model.call(input);

        Assert.True(functional.eq(explicitHead).all().item<bool>());
        Assert.True(functional.eq(restored).all().item<bool>());
        Assert.Equal(2, calls.Count);
        Assert.Equal(keys, model.state_dict().Keys);
        Assert.Same(model.HeadReLU, model.named_children().Single(c => c.name == "head_relu").module);
        Assert.Same(model.HeadPool, model.named_children().Single(c => c.name == "head_pool").module);
    }

    [Theory]
    [InlineData(ResNetBlockKind.Basic)]
    [InlineData(ResNetBlockKind.Bottleneck)]
    public void ResidualSumModulesComputeTheSameAndCanBeSwitchedBack(ResNetBlockKind kind)
    {
        using var scope = NewDisposeScope();
        using var model = new ResNet(kind, new long[] { 2, 1, 1, 1 }, numClasses: 6);
        model.eval();
        var keys = model.state_dict().Keys.ToList();
        Tensor input = randn(2, 3, 45, 37);
        int sums = 0;
        foreach (IResidualBlock block in model.Blocks)
        {
            block.Sum.register_forward_hook((m, i, o) =>
            {
                Assert.Equal(2, i.shape[0]);
                sums++;
                return o;
            });
        }
        using var noGrad = no_grad();

        Tensor inline = model.call(input);
        Assert.Equal(0, sums);
        model.UseSumModules = true;
        Assert.True(model.Blocks.All(b => b.UseSumModule));
        Tensor summed = model.call(input);
        Assert.Equal(5, sums);
        model.UseSumModules = false;
        Tensor restored = model.call(input);

        Assert.True(inline.allclose(summed, rtol: 1e-6, atol: 1e-6));
        Assert.True(inline.eq(restored).all().item<bool>());
        Assert.Equal(5, sums);
        Assert.Equal(keys, model.state_dict().Keys);
    }

    [Fact]
    public void BlocksExposeTheirModulesUnderTorchvisionNames()
    {
        using ZooModel model = ModelZoo.Create("resnet50", device: META);
        var resnet = (ResNet)model;

        IResidualBlock first = resnet.Blocks[0];
        var children = ((nn.Module)first).named_children().ToDictionary(c => c.name, c => c.module);

        Assert.Equal(16, resnet.Blocks.Count);
        Assert.IsType<Bottleneck>(first);
        Assert.Same(first.Sum, children["sum"]);
        Assert.Equal(0, first.Sum.Dim);
        Assert.Same(first.Downsample, children["downsample"]);
        Assert.Null(resnet.Blocks[1].Downsample);
        Assert.Equal(new[] { "conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "relu", "downsample", "sum" }, children.Keys);
        Assert.False(resnet.UseSumModules);
        resnet.Blocks[3].UseSumModule = true;
        Assert.False(resnet.UseSumModules);
    }

    [Fact]
    public void ReLUsAreInPlaceWhereTorchvisionsAre()
    {
        using ZooModel densenet = ModelZoo.Create("densenet121", device: META);
        using ZooModel resnet = ModelZoo.Create("resnet18", device: META);
        using ZooModel vgg = ModelZoo.Create("vgg11", device: META);

        foreach (ZooModel model in new[] { densenet, resnet, vgg })
        {
            var relus = model.modules().OfType<ReLU>().ToList();
            Assert.NotEmpty(relus);
            Assert.All(relus, r => Assert.True(r.inplace));
        }
        Assert.IsType<Sum>(((ResNet)resnet).Blocks[0].Sum);
    }
}
