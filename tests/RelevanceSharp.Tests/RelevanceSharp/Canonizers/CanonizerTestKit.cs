using RelevanceSharp.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Canonizers;

/// <summary>Builders and checks shared by the canonizer tests.</summary>
internal static class CanonizerTestKit
{
    /// <summary>
    /// Gives every batch norm statistics far from the identity: weights in [-2, 2] with some negative and, when
    /// asked, some exactly zero; biases and means in [-1, 1]; variances in [0.3, 3].
    /// </summary>
    public static void RandomizeBatchNorms(nn.Module model, long seed, bool zeroSomeScales = true)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (_, module) in model.NamedModulesWithRoot())
        {
            if (module is not BatchNorm bn)
            {
                continue;
            }
            long n = bn.num_features;
            ScalarType type = bn.running_mean!.dtype;
            bn.running_mean.copy_(rand(n, type, generator: generator).mul(Scalars.Of(2)).sub(Scalars.Of(1)));
            bn.running_var!.copy_(rand(n, type, generator: generator).mul(Scalars.Of(2.7)).add(Scalars.Of(0.3), Scalars.One));
            if (bn.weight is not null)
            {
                Tensor weight = rand(n, type, generator: generator).mul(Scalars.Of(4)).sub(Scalars.Of(2));
                weight[0] = -1.5;
                if (zeroSomeScales && n > 2)
                {
                    weight[n - 1] = 0.0;
                }
                bn.weight.copy_(weight);
            }
            bn.bias?.copy_(rand(n, type, generator: generator).mul(Scalars.Of(2)).sub(Scalars.Of(1)));
        }
    }

    /// <summary>Fills weights and biases of linear layers and convolutions with seeded values.</summary>
    public static void RandomizeLayers(nn.Module model, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (_, module) in model.NamedModulesWithRoot())
        {
            Tensor? weight = module switch { Linear l => l.weight, Convolution c => c.weight, _ => null };
            Tensor? bias = module switch { Linear l => l.bias, Convolution c => c.bias, _ => null };
            if (weight is not null)
            {
                weight.copy_((rand(weight.shape, weight.dtype, generator: generator).mul(Scalars.Of(2)).sub(Scalars.Of(1))).div(Scalars.Of(Math.Sqrt(weight[0].numel()))));
            }
            bias?.copy_(rand(bias.shape, bias.dtype, generator: generator).mul(Scalars.Of(0.4)).sub(Scalars.Of(0.2)));
        }
    }

    /// <summary>A seeded input.</summary>
    public static Tensor Input(long seed, params long[] shape)
    {
        using var generator = new Generator((ulong)seed);
        return randn(shape, ScalarType.Float64, generator: generator);
    }

    /// <summary>The model output without gradients.</summary>
    public static Tensor Output(nn.Module<Tensor, Tensor> model, Tensor input)
    {
        using var noGrad = no_grad();
        return model.call(input).detach().clone();
    }

    /// <summary>Largest absolute difference.</summary>
    public static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<double>();

    /// <summary>A snapshot of every parameter, buffer and batch-norm eps of a model: the objects and copies of their values.</summary>
    public sealed class Snapshot
    {
        private readonly List<(string Name, Tensor Tensor, Tensor Copy)> tensors = new();
        private readonly List<(string Name, BatchNorm BatchNorm, double Eps)> eps = new();
        private readonly List<(string Name, nn.Module Module)> modules = new();

        public Snapshot(nn.Module model)
        {
            foreach (var (name, tensor) in model.NamedTensors())
            {
                tensors.Add((name, tensor, tensor.detach().clone()));
            }
            foreach (var (name, module) in model.NamedModulesWithRoot())
            {
                modules.Add((name, module));
                if (module is BatchNorm bn)
                {
                    eps.Add((name, bn, bn.eps));
                }
            }
        }

        /// <summary>Asserts the model holds the same objects with bit-identical values and no RelevanceSharp hooks.</summary>
        public void AssertRestored(nn.Module model)
        {
            var now = model.NamedTensors().ToList();
            Assert.Equal(tensors.Select(t => t.Name), now.Select(t => t.Name));
            for (int i = 0; i < now.Count; i++)
            {
                Assert.True(tensors[i].Tensor.Handle == now[i].Tensor.Handle, $"{now[i].Name} is a different tensor object");
                Assert.True(tensors[i].Copy.bytes.SequenceEqual(now[i].Tensor.contiguous().bytes), $"{now[i].Name} changed");
            }
            foreach (var (name, bn, value) in eps)
            {
                Assert.True(bn.eps == value, $"{name}.eps is {bn.eps}, was {value}");
            }
            var currentModules = model.NamedModulesWithRoot().ToList();
            Assert.Equal(modules.Select(m => m.Name), currentModules.Select(m => m.Name));
            for (int i = 0; i < modules.Count; i++)
            {
                Assert.Same(modules[i].Module, currentModules[i].Module);
                Assert.Equal(0, ModuleHooks.Count(modules[i].Module));
                Assert.Null(LayerParameters.GetBiasOverride(modules[i].Module));
            }
        }
    }
}
