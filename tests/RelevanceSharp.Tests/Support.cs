using RelevanceSharp.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests;

/// <summary>Building small float64 layers from literal numbers, and comparing tensors with plain arrays.</summary>
internal static class Support
{
    /// <summary>A float64 tensor of the given shape from row-major values.</summary>
    public static Tensor T(double[] values, params long[] shape) =>
        tensor(values, shape.Length == 0 ? new long[] { values.Length } : shape, ScalarType.Float64);

    /// <summary>The values of a tensor, row-major, as doubles.</summary>
    public static double[] D(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().cpu().to(ScalarType.Float64).contiguous().data<double>().ToArray();
    }

    /// <summary>A float64 Linear layer with the given weight rows (out x in) and bias.</summary>
    public static Linear Linear(double[,] weight, double[]? bias)
    {
        int outputs = weight.GetLength(0), inputs = weight.GetLength(1);
        Linear layer = nn.Linear(inputs, outputs, hasBias: bias is not null, dtype: ScalarType.Float64);
        using (no_grad())
        {
            layer.weight!.copy_(T(Flatten(weight), outputs, inputs));
            if (bias is not null)
            {
                layer.bias!.copy_(T(bias));
            }
        }
        return layer;
    }

    /// <summary>A float64 Conv2d layer with the given weight (out, in, kh, kw) and bias.</summary>
    public static Conv2d Conv2d(double[] weight, long[] weightShape, double[]? bias, long stride = 1, long padding = 0)
    {
        Conv2d layer = nn.Conv2d(weightShape[1], weightShape[0], weightShape[2], stride: stride, padding: padding,
            bias: bias is not null, dtype: ScalarType.Float64);
        using (no_grad())
        {
            layer.weight!.copy_(T(weight, weightShape));
            if (bias is not null)
            {
                layer.bias!.copy_(T(bias));
            }
        }
        return layer;
    }

    /// <summary>Deterministic pseudo-random values in [-1, 1) (a fixed linear congruential sequence).</summary>
    public static double[] Values(int count, ulong seed)
    {
        var result = new double[count];
        ulong state = seed * 6364136223846793005UL + 1442695040888963407UL;
        for (int i = 0; i < count; i++)
        {
            state = state * 6364136223846793005UL + 1442695040888963407UL;
            result[i] = 2.0 * ((state >> 11) * (1.0 / (1UL << 53))) - 1.0;
        }
        return result;
    }

    /// <summary>Row-major values of a matrix.</summary>
    public static double[] Flatten(double[,] matrix)
    {
        var result = new double[matrix.Length];
        int k = 0;
        foreach (double value in matrix)
        {
            result[k++] = value;
        }
        return result;
    }

    /// <summary>Asserts elementwise closeness with a message naming the first offending index.</summary>
    public static void AssertClose(double[] expected, double[] actual, double tolerance = 1e-12, string what = "value")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}.");
        for (int i = 0; i < expected.Length; i++)
        {
            double allowed = tolerance * Math.Max(1.0, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= allowed,
                $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (difference {expected[i] - actual[i]:E3}).");
        }
    }

    /// <summary>Asserts elementwise closeness of a tensor to plain values.</summary>
    public static void AssertClose(double[] expected, Tensor actual, double tolerance = 1e-12, string what = "value") =>
        AssertClose(expected, D(actual), tolerance, what);

    /// <summary>
    /// The relevance a rule attached to <paramref name="module"/> sends to the module's input, given the relevance
    /// <paramref name="seed"/> at its output (one backward pass through the rule's hooks).
    /// </summary>
    public static Tensor RuleRelevance(nn.Module<Tensor, Tensor> module, Rule rule, Tensor input, Tensor seed)
    {
        using IDisposable registration = rule.Register(module);
        using var grad = enable_grad();
        Tensor x = input.detach().clone().requires_grad_(true);
        Tensor output = module.call(x);
        Assert.Equal(seed.shape, output.shape);
        Tensor relevance = autograd.grad(new[] { output }, new[] { x }, new[] { seed })[0];
        BackwardFailures.ThrowIfAny();
        return relevance.detach();
    }
}
