using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Engine;

/// <summary>Small deterministic float64 networks for the engine tests.</summary>
internal static class TestNets
{
    /// <summary>Fills every parameter with fixed pseudo-random values (and biases with zeros if asked).</summary>
    public static TModule Fill<TModule>(TModule model, ulong seed, bool zeroBias = false) where TModule : nn.Module
    {
        using var noGrad = no_grad();
        ulong k = seed;
        foreach (var (name, parameter) in model.named_parameters())
        {
            double[] values = Values((int)parameter.numel(), k++);
            bool bias = name.EndsWith("bias", StringComparison.Ordinal);
            parameter.copy_(T(values.Select(v => bias ? (zeroBias ? 0.0 : 0.2 * v) : v * 0.8).ToArray(), parameter.shape));
        }
        return model;
    }

    /// <summary>Conv -> ReLU -> Conv(stride 2) -> ReLU -> Flatten -> Linear -> ReLU -> Linear, for input (N, 2, 4, 4).</summary>
    public static Sequential ConvReLUNet(ulong seed, bool zeroBias = false) => Fill(nn.Sequential(
        ("0", nn.Conv2d(2, 3, 3, padding: 1, dtype: ScalarType.Float64)),
        ("1", nn.ReLU()),
        ("2", nn.Conv2d(3, 4, 3, stride: 2, padding: 1, dtype: ScalarType.Float64)),
        ("3", nn.ReLU()),
        ("4", nn.Flatten()),
        ("5", nn.Linear(16, 6, dtype: ScalarType.Float64)),
        ("6", nn.ReLU()),
        ("7", nn.Linear(6, 3, dtype: ScalarType.Float64))), seed, zeroBias);

    /// <summary>A conv net with a batch norm (non-trivial statistics) and an average pool, for input (N, 2, 4, 4).</summary>
    public static Sequential ConvBatchNormNet(ulong seed)
    {
        Sequential model = Fill(nn.Sequential(
            ("0", nn.Conv2d(2, 3, 3, padding: 1, dtype: ScalarType.Float64)),
            ("1", nn.BatchNorm2d(3, dtype: ScalarType.Float64)),
            ("2", nn.ReLU()),
            ("3", nn.Conv2d(3, 4, 3, padding: 1, dtype: ScalarType.Float64)),
            ("4", nn.ReLU()),
            ("5", nn.AvgPool2d(2)),
            ("6", nn.Flatten()),
            ("7", nn.Linear(16, 3, dtype: ScalarType.Float64))), seed);
        var norm = (BatchNorm2d)model[1];
        using (no_grad())
        {
            norm.running_mean!.copy_(T(new[] { 0.3, -0.2, 0.1 }));
            norm.running_var!.copy_(T(new[] { 0.5, 2.0, 1.5 }));
            norm.num_batches_tracked!.fill_(Scalars.Of(7));
        }
        model.eval();
        return model;
    }

    public static Tensor Input(ulong seed, long batch = 2) => T(Values((int)(batch * 32), seed), batch, 2, 4, 4);
}
