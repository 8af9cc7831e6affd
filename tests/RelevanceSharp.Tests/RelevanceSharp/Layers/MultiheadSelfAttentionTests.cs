using RelevanceSharp.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Layers;

/// <summary>The explicit attention against torch's fused one, and its state dict in torch's layout.</summary>
public class MultiheadSelfAttentionTests
{
    private const long Dim = 8;
    private const long Heads = 2;

    private static MultiheadSelfAttention Attention(ulong seed)
    {
        var attention = new MultiheadSelfAttention(Dim, Heads, dtype: ScalarType.Float64);
        using var noGrad = no_grad();
        ulong k = seed;
        foreach (var (_, tensor) in attention.state_dict())
        {
            tensor.copy_(T(Values((int)tensor.numel(), k++), tensor.shape));
        }
        return attention;
    }

    [Fact]
    public void ComputesWhatTorchsFusedAttentionComputes()
    {
        using var scope = NewDisposeScope();
        MultiheadSelfAttention attention = Attention(3);
        MultiheadAttention fused = nn.MultiheadAttention(Dim, Heads);
        fused.to(ScalarType.Float64);
        var ours = attention.state_dict();
        using (no_grad())
        {
            foreach (var (name, parameter) in fused.named_parameters())
            {
                parameter.copy_(ours[name]);
            }
        }
        Tensor x = T(Values(3 * 5 * (int)Dim, 9), 3, 5, Dim);

        Tensor expected = fused.call(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), need_weights: false).Item1.transpose(0, 1);
        Tensor actual = attention.call(x);

        Assert.Equal(new long[] { 3, 5, Dim }, actual.shape);
        Assert.True((actual - expected).abs().max().item<double>() < 1e-12, $"differs by {(actual - expected).abs().max().item<double>()}");
    }

    [Fact]
    public void ComputesWhatScaledDotProductAttentionComputes()
    {
        using var scope = NewDisposeScope();
        MultiheadSelfAttention attention = Attention(5);
        Tensor x = T(Values(2 * 4 * (int)Dim, 11), 2, 4, Dim);
        Tensor Split(Linear projection) => projection.call(x).view(2, 4, Heads, Dim / Heads).transpose(1, 2);

        Tensor heads = nn.functional.scaled_dot_product_attention(Split(attention.Q), Split(attention.K), Split(attention.V));
        Tensor expected = attention.OutProj.call(heads.transpose(1, 2).reshape(2, 4, Dim));

        Assert.True((attention.call(x) - expected).abs().max().item<double>() < 1e-12);
    }

    [Fact]
    public void StateDictHasTorchsLayoutAndWritesReachTheProjections()
    {
        using var scope = NewDisposeScope();
        MultiheadSelfAttention attention = Attention(7);

        var state = attention.state_dict();
        Assert.Equal(["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"], state.Keys);
        Assert.Equal(new long[] { 3 * Dim, Dim }, state["in_proj_weight"].shape);
        using (no_grad())
        {
            state["in_proj_weight"].copy_(arange(Scalars.Of(0L), Scalars.Of(3 * Dim * Dim), Scalars.One, dtype: ScalarType.Float64).view(3 * Dim, Dim));
            state["in_proj_bias"].copy_(arange(Scalars.Of(0L), Scalars.Of(3 * Dim), Scalars.One, dtype: ScalarType.Float64));
        }

        // Rows 0..E-1 are q, E..2E-1 k, 2E..3E-1 v, as in torch.
        Assert.Equal(D(arange(Scalars.Of(Dim * Dim), Scalars.Of(2 * Dim * Dim), Scalars.One, dtype: ScalarType.Float64)), D(attention.K.weight));
        Assert.Equal(D(arange(Scalars.Of(2 * Dim), Scalars.Of(3 * Dim), Scalars.One, dtype: ScalarType.Float64)), D(attention.V.bias!));
        Assert.Equal(4 * Dim * Dim + 4 * Dim, attention.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void ConversionKeepsTheLinkAndAHandAssignedWeightIsTakenIn()
    {
        using var scope = NewDisposeScope();
        MultiheadSelfAttention attention = Attention(13);
        double[] before = D(attention.state_dict()["in_proj_weight"]);

        attention.to(ScalarType.Float32);
        Tensor joined = attention.state_dict()["in_proj_weight"];
        Assert.Equal(ScalarType.Float32, joined.dtype);
        Assert.Equal(before.Select(v => (double)(float)v), D(joined));
        using (no_grad())
        {
            joined.fill_(Scalars.Of(2.0f));
        }
        Assert.All(D(attention.V.weight), v => Assert.Equal(2.0, v));

        attention.Q.weight = nn.Parameter(full(Dim, Dim, Scalars.Of(5.0f)));
        double[] rows = D(attention.state_dict()["in_proj_weight"]);
        Assert.All(rows.Take((int)(Dim * Dim)), v => Assert.Equal(5.0, v));
        Assert.All(rows.Skip((int)(Dim * Dim)), v => Assert.Equal(2.0, v));
    }

    [Fact]
    public void TrainingReachesTheProjections()
    {
        using var scope = NewDisposeScope();
        MultiheadSelfAttention attention = Attention(17);
        Tensor x = T(Values(2 * 3 * (int)Dim, 19), 2, 3, Dim);

        attention.call(x).pow(Scalars.Of(2.0)).sum().backward();

        foreach (Linear projection in new[] { attention.Q, attention.K, attention.V, attention.OutProj })
        {
            Assert.True(projection.weight.grad is { } grad && grad.abs().sum().item<double>() > 0);
        }
    }

    [Fact]
    public void InputsOfTheWrongShapeAreRefusedByName()
    {
        using var scope = NewDisposeScope();
        MultiheadSelfAttention attention = Attention(23);

        var error = Assert.Throws<ArgumentException>(() => attention.call(zeros(2, 3, Dim + 1, dtype: ScalarType.Float64)));

        Assert.Contains("(N, T, 8)", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new MultiheadSelfAttention(8, 3));
    }
}
