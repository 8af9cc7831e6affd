using System.Text.Json;
using RelevanceSharp.Language.Models;

namespace RelevanceSharp.Tests.Language;

/// <summary>Reading config.json of LLaMA, Mistral and Qwen2 checkpoints, and refusing configurations that make no model.</summary>
public class DecoderConfigTests
{
    private static DecoderConfig Parse(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return DecoderConfig.Parse(document.RootElement);
    }

    // The fields of LLaMA 3.2 1B's config.json that the model reads.
    private const string Llama32 = """
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256, "hidden_size": 2048,
         "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
         "head_dim": 64, "hidden_act": "silu", "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
         "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                          "original_max_position_embeddings": 8192, "rope_type": "llama3"},
         "tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false, "max_position_embeddings": 131072,
         "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "torch_dtype": "bfloat16"}
        """;

    [Fact]
    public void ReadsLlama32()
    {
        DecoderConfig c = Parse(Llama32);
        Assert.Equal(("llama", 128256L, 2048L, 8192L, 16, 32, 8, 64L), (c.ModelType, c.VocabSize, c.HiddenSize, c.IntermediateSize, c.Layers,
            c.AttentionHeads, c.KeyValueHeads, c.HeadDim));
        Assert.Equal(4, c.GroupSize);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.Equal(500000.0, c.RopeTheta);
        Assert.Equal(new RopeScaling(RopeType.Llama3, 32.0, 1.0, 4.0, 8192), c.RopeScaling);
        Assert.True(c.TieWordEmbeddings);
        Assert.False(c.QkvBias || c.OutputBias || c.MlpBias);
        Assert.Equal(128000L, c.BosTokenId);
        Assert.Null(c.SlidingWindow);
        Assert.Equal("bfloat16", c.StoredDtype);
        // LLaMA 3.2 1B has 1,235,814,400 parameters (tied embeddings counted once).
        Assert.Equal(1_235_814_400L, c.ParameterCount);
    }

    [Fact]
    public void ReadsMistralWithItsSlidingWindowAndHeadDim()
    {
        DecoderConfig c = Parse("""
            {"model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336,
             "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
             "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "sliding_window": 4096, "tie_word_embeddings": false}
            """);
        Assert.Equal(128L, c.HeadDim);
        Assert.Equal(4096L, c.SlidingWindow);
        Assert.Equal(RopeScaling.None, c.RopeScaling);
    }

    [Fact]
    public void ReadsQwen2WithBiasesOnQueryKeyValueOnly()
    {
        DecoderConfig c = Parse("""
            {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
             "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
             "rope_theta": 1000000.0, "sliding_window": 32768, "use_sliding_window": false, "tie_word_embeddings": true}
            """);
        Assert.True(c.QkvBias);
        Assert.False(c.OutputBias);
        Assert.Equal(64L, c.HeadDim);
        Assert.Null(c.SlidingWindow);
        Assert.True(c.TieWordEmbeddings);
    }

    [Fact]
    public void LlamaAttentionBiasPutsABiasOnAllFourProjections()
    {
        DecoderConfig c = Parse("""{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2, "attention_bias": true, "mlp_bias": true}""");
        Assert.True(c.QkvBias && c.OutputBias && c.MlpBias);
        Assert.Equal(2, c.KeyValueHeads);
        Assert.Equal(10000.0, c.RopeTheta);
    }

    [Fact]
    public void ReadsTransformersV5RopeParameters()
    {
        DecoderConfig c = Parse("""{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2, "rope_parameters": {"rope_type": "default", "rope_theta": 1234.0}}""");
        Assert.Equal(1234.0, c.RopeTheta);
        Assert.Equal(RopeScaling.None, c.RopeScaling);
    }

    [Theory]
    [InlineData("\"model_type\": \"gpt2\",", "model_type 'gpt2' is not supported")]
    [InlineData("\"num_key_value_heads\": 3,", "not a multiple of num_key_value_heads")]
    [InlineData("\"head_dim\": 5,", "head_dim (5) is odd")]
    [InlineData("\"hidden_act\": \"gelu\",", "hidden_act 'gelu'")]
    [InlineData("\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4},", "rope_scaling of type 'yarn'")]
    [InlineData("\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8},", "no low_freq_factor")]
    [InlineData("\"vocab_size\": -4,", "vocab_size must be a positive integer")]
    [InlineData("\"vocab_size\": \"many\",", "vocab_size is \"many\", not an integer")]
    [InlineData("\"intermediate_size\": 4611686018427387904,", "more parameters than 64-bit arithmetic")]
    [InlineData("\"num_hidden_layers\": 99999999999,", "num_hidden_layers (99999999999) is too large")]
    public void RefusesConfigurationsThatMakeNoModel(string field, string message)
    {
        // Later duplicates of a field are what JsonElement reads: put the tested field last.
        string json = "{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 12, " +
            "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, " + field.TrimEnd(',') + "}";
        var ex = Assert.Throws<InvalidDataException>(() => Parse(json));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadNamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{"model_type": "llama", "vocab_size": 10}""");
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => DecoderConfig.Load(path));
            Assert.StartsWith(path + ":", ex.Message, StringComparison.Ordinal);
            Assert.Contains("hidden_size", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
