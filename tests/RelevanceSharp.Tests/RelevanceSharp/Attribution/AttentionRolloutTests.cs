using RelevanceSharp.Attribution;
using RelevanceSharp.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Attribution;

/// <summary>Attention rollout against the formula of Abnar and Zuidema, written out with loops over plain arrays.</summary>
public class AttentionRolloutTests
{
    /// <summary>A small vision transformer from the library's blocks: 8 x 8 images, 4 x 4 patches, 2 blocks.</summary>
    internal sealed class TinyTransformer : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d patches = nn.Conv2d(2, 8, 4, stride: 4, dtype: ScalarType.Float64);
        private readonly Parameter token = nn.Parameter(zeros(1, 1, 8, dtype: ScalarType.Float64));
        private readonly PrependTokens prepend = new();
        private readonly TransformerEncoderBlock block0 = new(8, 2, 16, dtype: ScalarType.Float64);
        private readonly TransformerEncoderBlock block1 = new(8, 2, 16, dtype: ScalarType.Float64);
        private readonly Linear head = nn.Linear(8, 3, dtype: ScalarType.Float64);

        public TinyTransformer() : base(nameof(TinyTransformer)) => RegisterComponents();

        public IEnumerable<TransformerEncoderBlock> Blocks => [block0, block1];

        public override Tensor forward(Tensor input)
        {
            Tensor x = patches.call(input).flatten(2).transpose(1, 2);
            return head.call(block1.call(block0.call(prepend.call(token, x))).select(1, 0));
        }
    }

    private static TinyTransformer Model(ulong seed)
    {
        var model = new TinyTransformer();
        model.eval();
        using var noGrad = no_grad();
        foreach (var (_, parameter) in model.named_parameters())
        {
            parameter.copy_(T(Values((int)parameter.numel(), seed++), parameter.shape));
        }
        return model;
    }

    private static Tensor Images() => T(Values(2 * 2 * 8 * 8, 99), 2, 2, 8, 8);

    [Fact]
    public void UniformAttentionRollsOutToTheClosedForm()
    {
        using var scope = NewDisposeScope();
        TinyTransformer model = Model(1);
        using (no_grad())
        {
            // Zero queries and keys: every score is 0, so every attention row is uniform, 1/T.
            foreach (TransformerEncoderBlock block in model.Blocks)
            {
                foreach (Linear projection in new[] { block.SelfAttention.Q, block.SelfAttention.K })
                {
                    projection.weight.zero_();
                    projection.bias!.zero_();
                }
            }
        }

        var (_, grid) = new AttentionRollout(model).AttributePatches(Images());

        // Each layer is (J/T + I) / 2; J/T is idempotent, so two layers give I/4 + (3/4) J/T: the class token's row
        // over the 4 patches is 3/4 / 5 everywhere.
        Assert.Equal(new long[] { 2, 2, 2 }, grid.shape);
        Assert.All(D(grid), v => Assert.Equal(0.75 / 5, v, 14));
    }

    [Fact]
    public void RolloutIsTheProductOfRenormalizedHeadAveragesWithTheIdentity()
    {
        using var scope = NewDisposeScope();
        TinyTransformer model = Model(7);
        Tensor images = Images();
        var captured = new List<double[]>();
        var handles = model.Blocks.Select(b => b.SelfAttention.Softmax.register_forward_hook((m, x, y) =>
        {
            captured.Add(D(y));
            return y;
        })).ToList();
        using (no_grad())
        {
            model.call(images);
        }
        handles.ForEach(h => h.remove());

        var rollout = new AttentionRollout(model);
        var (_, grid) = rollout.AttributePatches(images);

        const int n = 2, heads = 2, tokens = 5;
        var expected = new double[n * 4];
        for (int s = 0; s < n; s++)
        {
            double[,] product = Identity(tokens);
            foreach (double[] weights in captured)
            {
                var layer = new double[tokens, tokens];
                for (int i = 0; i < tokens; i++)
                {
                    double rowSum = 0;
                    for (int j = 0; j < tokens; j++)
                    {
                        double mean = 0;
                        for (int h = 0; h < heads; h++)
                        {
                            mean += weights[((s * heads + h) * tokens + i) * tokens + j] / heads;
                        }
                        layer[i, j] = mean + (i == j ? 1 : 0);
                        rowSum += layer[i, j];
                    }
                    for (int j = 0; j < tokens; j++)
                    {
                        layer[i, j] /= rowSum;
                    }
                }
                product = Multiply(layer, product);
            }
            for (int p = 0; p < 4; p++)
            {
                expected[s * 4 + p] = product[0, 1 + p];
            }
        }
        Assert.Equal(2, captured.Count);
        Assert.Equal(new PatchGridShape(2, 2, 4, 4), rollout.LastGrid);
        AssertClose(expected, grid, 1e-13);
    }

    [Fact]
    public void TheImageSizedResultSpreadsEachPatchOverItsPixels()
    {
        using var scope = NewDisposeScope();
        TinyTransformer model = Model(11);
        var rollout = new AttentionRollout(model, AttributionTarget.Class(2));
        Tensor images = Images();

        var (_, grid) = rollout.AttributePatches(images);
        using AttributionResult result = rollout.Attribute(images);

        Assert.Equal(images.shape, result.Relevance.shape);
        Assert.Equal(new long[] { 2, 3 }, result.Output.shape);
        for (int s = 0; s < 2; s++)
        {
            for (int r = 0; r < 2; r++)
            {
                for (int c = 0; c < 2; c++)
                {
                    Tensor patch = result.Relevance[s, .., (r * 4)..(r * 4 + 4), (c * 4)..(c * 4 + 4)];
                    Assert.Equal(grid[s, r, c].item<double>(), patch.sum().item<double>(), 14);
                    Assert.Equal(0.0, (patch.max() - patch.min()).item<double>(), 15);
                }
            }
        }
    }

    [Fact]
    public void AModelWithoutAttentionIsRefusedByName()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("0", nn.Flatten()), ("1", nn.Linear(128, 3, dtype: ScalarType.Float64)));

        var error = Assert.Throws<ArgumentException>(() => new AttentionRollout(model).AttributePatches(Images()));

        Assert.Contains("MultiheadSelfAttention", error.Message, StringComparison.Ordinal);
    }

    private static double[,] Identity(int size)
    {
        var result = new double[size, size];
        for (int i = 0; i < size; i++)
        {
            result[i, i] = 1;
        }
        return result;
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        int size = a.GetLength(0);
        var result = new double[size, size];
        for (int i = 0; i < size; i++)
        {
            for (int j = 0; j < size; j++)
            {
                for (int k = 0; k < size; k++)
                {
                    result[i, j] += a[i, k] * b[k, j];
                }
            }
        }
        return result;
    }
}
