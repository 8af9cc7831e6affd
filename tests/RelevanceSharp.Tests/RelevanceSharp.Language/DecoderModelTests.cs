using RelevanceSharp.Core;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Rules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Language;

/// <summary>The decoder against a forward pass written out with loops, for the layouts llama_tiny does not cover.</summary>
public class DecoderModelTests
{
    private static DecoderConfig Config(int vocab = 23, long hidden = 16, int heads = 4, int kvHeads = 2) => new DecoderConfig
    {
        VocabSize = vocab,
        HiddenSize = hidden,
        IntermediateSize = 24,
        Layers = 2,
        AttentionHeads = heads,
        KeyValueHeads = kvHeads,
        HeadDim = hidden / heads,
        RmsNormEps = 1e-5,
        RopeTheta = 500.0,
    }.Validate();

    public static TheoryData<string> Layouts() => new() { "qwen2", "llama3-biases", "mistral-mqa" };

    private static DecoderConfig Layout(string name) => name switch
    {
        // Qwen2: q/k/v biases, tied embeddings.
        "qwen2" => Config() with { ModelType = "qwen2", QkvBias = true, TieWordEmbeddings = true },
        // LLaMA 3.1 rope scaling with all biases LLaMA allows, and a head dimension other than hidden / heads.
        "llama3-biases" => Config() with
        {
            QkvBias = true,
            OutputBias = true,
            MlpBias = true,
            HeadDim = 6,
            RopeScaling = new RopeScaling(RopeType.Llama3, 8.0, 1.0, 4.0, 16),
        },
        // One key/value head for all query heads, linear rope scaling.
        _ => Config(heads: 4, kvHeads: 1) with { ModelType = "mistral", RopeScaling = new RopeScaling(RopeType.Linear, 2.0) },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void LogitsEqualTheLoopsOverTokensAndHeads(string layout)
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = ReferenceDecoder.Random(Layout(layout), 11);
        long[] ids = { 3, 17, 0, 22, 9, 9, 4 };
        double[][] expected = ReferenceDecoder.Logits(model, ids);
        Tensor logits = model.Logits(tensor(ids, new long[] { 1, ids.Length }))[0];
        AssertClose(expected.SelectMany(r => r).ToArray(), D(logits), 1e-10, $"{layout} logit");
    }

    [Fact]
    public void TiedEmbeddingsShareOneMatrixAndLeaveLmHeadOutOfTheCheckpoint()
    {
        using DecoderModel model = new(Layout("qwen2"), ScalarType.Float64);
        using (no_grad())
        {
            model.Body.Embeddings.weight!.fill_(Scalars.Of(0.25));
        }
        Assert.Equal(0.25, model.OutputLayer.weight!.mean().item<double>());
        Assert.DoesNotContain("lm_head.weight", model.ExpectedWeights().Keys);
        Assert.Contains("model.layers.1.self_attn.k_proj.bias", model.ExpectedWeights().Keys);
        Assert.DoesNotContain("model.layers.1.self_attn.o_proj.bias", model.ExpectedWeights().Keys);
    }

    [Fact]
    public void EarlierPositionsDoNotSeeLaterTokens()
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = ReferenceDecoder.Random(Config(), 5);
        Tensor a = model.Logits(tensor(new long[] { 1, 2, 3, 4, 5 }, new long[] { 1, 5 }));
        Tensor b = model.Logits(tensor(new long[] { 1, 2, 3, 9, 9 }, new long[] { 1, 5 }));
        AssertClose(D(a[0, ..3]), D(b[0, ..3]), 1e-12);
        Assert.True((a[0, 3] - b[0, 3]).abs().max().item<double>() > 1e-6);
    }

    [Fact]
    public void Llama3ScalingKeepsHighFrequenciesDividesLowOnesAndBlendsBetween()
    {
        // LLaMA 3.2's settings: wavelengths below 8192 / 4 are kept, above 8192 / 1 divided by 32, blended between.
        var scaling = new RopeScaling(RopeType.Llama3, 32.0, 1.0, 4.0, 8192);
        double[] plain = RotaryEmbedding.InverseFrequencies(64, 500000.0, RopeScaling.None);
        double[] scaled = RotaryEmbedding.InverseFrequencies(64, 500000.0, scaling);
        for (int i = 0; i < 32; i++)
        {
            double wavelength = 2 * Math.PI / plain[i];
            if (wavelength < 2048)
            {
                Assert.Equal(plain[i], scaled[i]);
            }
            else if (wavelength > 8192)
            {
                Assert.Equal(plain[i] / 32, scaled[i], 15);
            }
            else
            {
                double s = (8192 / wavelength - 1.0) / 3.0;
                Assert.InRange(s, 0.0, 1.0);
                Assert.Equal((1 - s) * plain[i] / 32 + s * plain[i], scaled[i], 15);
            }
        }
        // i = 16: f = 500000^(-1/2), wavelength 4442.88, s = 0.28127...
        Assert.Equal(0.28127 * Math.Pow(500000, -0.5) + (1 - 0.28127) * Math.Pow(500000, -0.5) / 32, scaled[16], 6);
        Assert.Equal(1.0, scaled[0]);
    }

    [Fact]
    public void TheRotaryEmbeddingIsALinearMapThatInputTimesGradientPassesExactly()
    {
        using var scope = NewDisposeScope();
        var rotary = new RotaryEmbedding(6, 100.0);
        Tensor a = T(Values(2 * 3 * 5 * 6, 1), 2, 3, 5, 6), b = T(Values(2 * 3 * 5 * 6, 2), 2, 3, 5, 6);
        AssertClose(D(rotary.call(a).add(rotary.call(b).mul(Scalars.Of(2)), Scalars.One)), D(rotary.call(a.add(b.mul(Scalars.Of(2)), Scalars.One))), 1e-12);
        // Position 0 turns nothing; every position keeps the length of each rotated pair.
        AssertClose(D(a[.., .., 0]), D(rotary.call(a)[.., .., 0]), 0);
        AssertClose(D(a.pow(Scalars.Of(2.0)).sum(-1)), D(rotary.call(a).pow(Scalars.Of(2.0)).sum(-1)), 1e-12);
        // Relevance through it by input x gradient sums to what arrives.
        Tensor r = T(Values(2 * 3 * 5 * 6, 3), 2, 3, 5, 6);
        Tensor relevance = RuleRelevance(rotary, new Epsilon(Stabilizer.Exact), a, r);
        Assert.Equal(D(r.sum())[0], D(relevance.sum())[0], 6);
    }

    [Fact]
    public void RefusesInputsItCannotRun()
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = new(Config() with { SlidingWindow = 4, MaxPositions = 6 }, ScalarType.Float64);
        Assert.Contains("sliding attention window of 4",
            Assert.Throws<ArgumentException>(() => model.call(zeros(1, 5, 16, ScalarType.Float64))).Message, StringComparison.Ordinal);
        Assert.Contains("float64", Assert.Throws<ArgumentException>(() => model.call(zeros(1, 3, 16))).Message, StringComparison.OrdinalIgnoreCase);
        Assert.Throws<ArgumentException>(() => model.call(zeros(1, 3, 15, ScalarType.Float64)));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Logits(tensor(new long[] { 1, 23 }, new long[] { 1, 2 })));
        Assert.Throws<ArgumentException>(() => new DecoderModel(Config(), ScalarType.Float16));
    }
}
