using System.Globalization;
using System.Text.Json;
using RelevanceSharp.IO;

namespace RelevanceSharp.Language.Models;

/// <summary>
/// How the rotary embedding's frequencies are scaled (Hugging Face's <c>rope_scaling</c>): not at all
/// (<see cref="Default"/>), every frequency divided by <c>factor</c> (<see cref="Linear"/>), or LLaMA 3.1's scheme
/// (<see cref="Llama3"/>: low frequencies divided by <c>factor</c>, high ones kept, a smooth blend between).
/// </summary>
public enum RopeType
{
    /// <summary>The plain rotary embedding.</summary>
    Default,

    /// <summary>Positions divided by the factor (every frequency divided by it).</summary>
    Linear,

    /// <summary>LLaMA 3.1 and 3.2's frequency scaling.</summary>
    Llama3,
}

/// <summary>The rotary embedding's scaling, as <c>rope_scaling</c> in <c>config.json</c> gives it.</summary>
/// <param name="Type">The kind of scaling.</param>
/// <param name="Factor">The factor (<c>factor</c>); 1 for <see cref="RopeType.Default"/>.</param>
/// <param name="LowFrequencyFactor">LLaMA 3's <c>low_freq_factor</c>.</param>
/// <param name="HighFrequencyFactor">LLaMA 3's <c>high_freq_factor</c>.</param>
/// <param name="OriginalMaxPositions">LLaMA 3's <c>original_max_position_embeddings</c>.</param>
public sealed record RopeScaling(RopeType Type, double Factor = 1.0, double LowFrequencyFactor = 1.0, double HighFrequencyFactor = 4.0,
    long OriginalMaxPositions = 8192)
{
    /// <summary>No scaling.</summary>
    public static RopeScaling None { get; } = new(RopeType.Default);
}

/// <summary>
/// The architecture of a LLaMA-family decoder, with Hugging Face's <c>config.json</c> field names and defaults:
/// LLaMA (1, 2, 3, 3.1, 3.2), Mistral and Qwen2 share one layout (RMSNorm, rotary embedding, grouped-query attention,
/// a SwiGLU MLP) and differ in the fields read here. Sizes are checked when the record is made.
/// </summary>
public sealed record DecoderConfig
{
    /// <summary>The model types read from <c>config.json</c>'s <c>model_type</c>.</summary>
    public static IReadOnlyList<string> ModelTypes { get; } = new[] { "llama", "mistral", "qwen2" };

    /// <summary><c>model_type</c>: <c>llama</c>, <c>mistral</c> or <c>qwen2</c>.</summary>
    public string ModelType { get; init; } = "llama";

    /// <summary><c>vocab_size</c>.</summary>
    public required long VocabSize { get; init; }

    /// <summary><c>hidden_size</c>: the width of the residual stream and of the token embeddings.</summary>
    public required long HiddenSize { get; init; }

    /// <summary><c>intermediate_size</c>: the width of the MLP.</summary>
    public required long IntermediateSize { get; init; }

    /// <summary><c>num_hidden_layers</c>.</summary>
    public required int Layers { get; init; }

    /// <summary><c>num_attention_heads</c>: query heads.</summary>
    public required int AttentionHeads { get; init; }

    /// <summary><c>num_key_value_heads</c>: key and value heads; each serves <c>AttentionHeads / KeyValueHeads</c> query heads.</summary>
    public required int KeyValueHeads { get; init; }

    /// <summary><c>head_dim</c>, or <c>hidden_size / num_attention_heads</c> when the file gives none.</summary>
    public required long HeadDim { get; init; }

    /// <summary><c>rms_norm_eps</c>.</summary>
    public double RmsNormEps { get; init; } = 1e-6;

    /// <summary><c>rope_theta</c>: the base of the rotary embedding's frequencies.</summary>
    public double RopeTheta { get; init; } = 10000.0;

    /// <summary><c>rope_scaling</c>.</summary>
    public RopeScaling RopeScaling { get; init; } = RopeScaling.None;

    /// <summary><c>tie_word_embeddings</c>: the output layer is the embedding matrix (no <c>lm_head.weight</c>).</summary>
    public bool TieWordEmbeddings { get; init; }

    /// <summary>Biases on the query, key and value projections (Qwen2, and LLaMA's <c>attention_bias</c>).</summary>
    public bool QkvBias { get; init; }

    /// <summary>A bias on the output projection of the attention (LLaMA's <c>attention_bias</c>).</summary>
    public bool OutputBias { get; init; }

    /// <summary>Biases on the three MLP projections (LLaMA's <c>mlp_bias</c>).</summary>
    public bool MlpBias { get; init; }

    /// <summary><c>max_position_embeddings</c>, or <c>null</c> when not given: longer prompts are refused.</summary>
    public long? MaxPositions { get; init; }

    /// <summary>
    /// The attention window of Mistral (<c>sliding_window</c>) and of Qwen2 with <c>use_sliding_window</c>, or
    /// <c>null</c>. Prompts are refused when longer than the window; within it the window changes nothing.
    /// </summary>
    public long? SlidingWindow { get; init; }

    /// <summary><c>bos_token_id</c>, if given.</summary>
    public long? BosTokenId { get; init; }

    /// <summary>The type the checkpoint was saved in (<c>torch_dtype</c> or <c>dtype</c>), for messages; computation uses its own.</summary>
    public string? StoredDtype { get; init; }

    /// <summary>Query heads per key/value head.</summary>
    public int GroupSize => AttentionHeads / KeyValueHeads;

    /// <summary>The number of parameters, in checked 64-bit arithmetic (counting tied embeddings once).</summary>
    public long ParameterCount
    {
        get
        {
            checked
            {
                long q = HiddenSize * AttentionHeads * HeadDim + (QkvBias ? AttentionHeads * HeadDim : 0);
                long kv = 2 * (HiddenSize * KeyValueHeads * HeadDim + (QkvBias ? KeyValueHeads * HeadDim : 0));
                long o = AttentionHeads * HeadDim * HiddenSize + (OutputBias ? HiddenSize : 0);
                long mlp = 3 * HiddenSize * IntermediateSize + (MlpBias ? 2 * IntermediateSize + HiddenSize : 0);
                long layer = q + kv + o + mlp + 2 * HiddenSize;
                long embeddings = VocabSize * HiddenSize;
                return embeddings * (TieWordEmbeddings ? 1 : 2) + Layers * layer + HiddenSize;
            }
        }
    }

    /// <summary>
    /// Checks that the sizes make a model: all positive, heads dividing as grouped-query attention needs, an even head
    /// dimension for the rotary embedding, a parameter count that fits 64 bits.
    /// </summary>
    /// <exception cref="InvalidDataException">A field is out of range; the message names it.</exception>
    public DecoderConfig Validate()
    {
        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("intermediate_size", IntermediateSize);
        Positive("num_hidden_layers", Layers);
        Positive("num_attention_heads", AttentionHeads);
        Positive("num_key_value_heads", KeyValueHeads);
        Positive("head_dim", HeadDim);
        if (AttentionHeads % KeyValueHeads != 0)
        {
            throw Invalid($"num_attention_heads ({AttentionHeads}) is not a multiple of num_key_value_heads ({KeyValueHeads})");
        }
        if (HeadDim % 2 != 0)
        {
            throw Invalid($"head_dim ({HeadDim}) is odd; the rotary embedding rotates pairs of dimensions");
        }
        if (!double.IsFinite(RmsNormEps) || RmsNormEps < 0)
        {
            throw Invalid($"rms_norm_eps ({RmsNormEps.ToString(CultureInfo.InvariantCulture)}) must be finite and non-negative");
        }
        if (!double.IsFinite(RopeTheta) || RopeTheta <= 1)
        {
            throw Invalid($"rope_theta ({RopeTheta.ToString(CultureInfo.InvariantCulture)}) must be a finite number above 1");
        }
        RopeScaling s = RopeScaling;
        if (!double.IsFinite(s.Factor) || s.Factor <= 0)
        {
            throw Invalid("rope_scaling.factor must be a positive number");
        }
        if (s.Type == RopeType.Llama3 && (!double.IsFinite(s.LowFrequencyFactor) || !double.IsFinite(s.HighFrequencyFactor)
            || s.LowFrequencyFactor <= 0 || s.HighFrequencyFactor <= s.LowFrequencyFactor || s.OriginalMaxPositions < 1))
        {
            throw Invalid("rope_scaling of type llama3 needs 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings >= 1");
        }
        try
        {
            _ = ParameterCount;
        }
        catch (OverflowException)
        {
            throw Invalid("the sizes give more parameters than 64-bit arithmetic can count");
        }
        return this;
    }

    /// <summary>
    /// The configuration as Hugging Face's <c>config.json</c> writes it (<c>LlamaForCausalLM</c>, <c>MistralForCausalLM</c>
    /// or <c>Qwen2ForCausalLM</c>), which <see cref="Parse"/> reads back unchanged.
    /// </summary>
    public string ToHuggingFaceJson()
    {
        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["architectures"] = new System.Text.Json.Nodes.JsonArray(ModelType switch
            {
                "qwen2" => "Qwen2ForCausalLM",
                "mistral" => "MistralForCausalLM",
                _ => "LlamaForCausalLM",
            }),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = Layers,
            ["num_attention_heads"] = AttentionHeads,
            ["num_key_value_heads"] = KeyValueHeads,
            ["head_dim"] = HeadDim,
            ["hidden_act"] = "silu",
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["rope_scaling"] = RopeScaling.Type switch
            {
                RopeType.Default => null,
                RopeType.Linear => new System.Text.Json.Nodes.JsonObject { ["rope_type"] = "linear", ["factor"] = RopeScaling.Factor },
                _ => new System.Text.Json.Nodes.JsonObject
                {
                    ["rope_type"] = "llama3",
                    ["factor"] = RopeScaling.Factor,
                    ["low_freq_factor"] = RopeScaling.LowFrequencyFactor,
                    ["high_freq_factor"] = RopeScaling.HighFrequencyFactor,
                    ["original_max_position_embeddings"] = RopeScaling.OriginalMaxPositions,
                },
            },
            ["tie_word_embeddings"] = TieWordEmbeddings,
        };
        if (ModelType == "llama")
        {
            json["attention_bias"] = QkvBias && OutputBias;
            json["mlp_bias"] = MlpBias;
            if (QkvBias && !OutputBias)
            {
                // Qwen2's layout under model_type llama, as the conformance cases name it.
                json["qkv_bias"] = true;
            }
        }
        if (MaxPositions is { } max)
        {
            json["max_position_embeddings"] = max;
        }
        if (SlidingWindow is { } window)
        {
            json["sliding_window"] = window;
            json["use_sliding_window"] = true;
        }
        if (BosTokenId is { } bos)
        {
            json["bos_token_id"] = bos;
        }
        json["torch_dtype"] = StoredDtype ?? "float32";
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static void Positive(string name, long value)
    {
        if (value < 1)
        {
            throw Invalid($"{name} must be a positive integer, not {value}");
        }
    }

    private static InvalidDataException Invalid(string problem) => new($"not a usable decoder configuration: {problem}.");

    /// <summary>
    /// Reads a Hugging Face <c>config.json</c> (<c>model_type</c> <c>llama</c>, <c>mistral</c> or <c>qwen2</c>) or a
    /// conformance <c>model.json</c> (<c>"arch": "llama"</c>, with <c>qkv_bias</c>). Every problem is one
    /// <see cref="InvalidDataException"/> that names the file and the field.
    /// </summary>
    public static DecoderConfig Load(string path)
    {
        using JsonDocument document = JsonInput.Load(path, "model configuration");
        try
        {
            return Parse(document.RootElement);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>Reads a configuration from parsed JSON (see <see cref="Load"/>).</summary>
    /// <exception cref="InvalidDataException">A field is missing, mistyped or out of range.</exception>
    public static DecoderConfig Parse(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("the configuration is not a JSON object.");
        }
        string modelType;
        if (json.TryGetProperty("model_type", out JsonElement type))
        {
            modelType = type.ValueKind == JsonValueKind.String ? type.GetString()! : throw new InvalidDataException("model_type is not a string.");
        }
        else if (json.TryGetProperty("arch", out JsonElement arch) && arch.ValueKind == JsonValueKind.String)
        {
            modelType = arch.GetString()!;
        }
        else
        {
            throw new InvalidDataException("the configuration names no model_type.");
        }
        if (!ModelTypes.Contains(modelType))
        {
            throw new InvalidDataException(
                $"model_type '{modelType}' is not supported (supported: {string.Join(", ", ModelTypes)}).");
        }
        string act = OptionalString(json, "hidden_act") ?? "silu";
        if (act is not ("silu" or "swish"))
        {
            throw new InvalidDataException($"hidden_act '{act}' is not supported; LLaMA-family MLPs use silu.");
        }
        long hidden = Integer(json, "hidden_size");
        int heads = Count(json, "num_attention_heads");
        long? headDim = OptionalInteger(json, "head_dim");
        if (headDim is null && heads > 0 && hidden % heads != 0)
        {
            throw new InvalidDataException($"hidden_size ({hidden}) is not a multiple of num_attention_heads ({heads}) and no head_dim is given.");
        }
        JsonElement? ropeParameters = json.TryGetProperty("rope_parameters", out JsonElement rp) && rp.ValueKind == JsonValueKind.Object ? rp : null;
        double theta = OptionalNumber(json, "rope_theta")
            ?? (ropeParameters is { } p ? OptionalNumber(p, "rope_theta") : null)
            ?? 10000.0;
        JsonElement? scaling = json.TryGetProperty("rope_scaling", out JsonElement rs) && rs.ValueKind == JsonValueKind.Object ? rs : ropeParameters;
        bool qwen = modelType == "qwen2";
        bool attentionBias = OptionalBool(json, "attention_bias") ?? false;
        long? window = OptionalInteger(json, "sliding_window");
        bool windowUsed = modelType == "mistral" || (OptionalBool(json, "use_sliding_window") ?? false);
        return new DecoderConfig
        {
            ModelType = modelType,
            VocabSize = Integer(json, "vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = Integer(json, "intermediate_size"),
            Layers = Count(json, "num_hidden_layers"),
            AttentionHeads = heads,
            KeyValueHeads = json.TryGetProperty("num_key_value_heads", out JsonElement kv) && kv.ValueKind != JsonValueKind.Null ? Count(json, "num_key_value_heads") : heads,
            HeadDim = headDim ?? (heads > 0 ? hidden / heads : 0),
            RmsNormEps = OptionalNumber(json, "rms_norm_eps") ?? 1e-6,
            RopeTheta = theta,
            RopeScaling = scaling is { } s ? ParseScaling(s) : RopeScaling.None,
            TieWordEmbeddings = OptionalBool(json, "tie_word_embeddings") ?? false,
            // Qwen2 always has q, k and v biases (and none on o); LLaMA's attention_bias puts one on all four; the
            // conformance cases name Qwen2's layout qkv_bias.
            QkvBias = qwen || attentionBias || (OptionalBool(json, "qkv_bias") ?? false),
            OutputBias = !qwen && attentionBias,
            MlpBias = OptionalBool(json, "mlp_bias") ?? false,
            MaxPositions = OptionalInteger(json, "max_position_embeddings"),
            SlidingWindow = windowUsed ? window : null,
            BosTokenId = OptionalInteger(json, "bos_token_id"),
            StoredDtype = OptionalString(json, "torch_dtype") ?? OptionalString(json, "dtype"),
        }.Validate();
    }

    private static RopeScaling ParseScaling(JsonElement s)
    {
        string kind = OptionalString(s, "rope_type") ?? OptionalString(s, "type") ?? "default";
        double factor = OptionalNumber(s, "factor") ?? 1.0;
        return kind switch
        {
            "default" => RopeScaling.None,
            "linear" => new RopeScaling(RopeType.Linear, factor),
            "llama3" => new RopeScaling(RopeType.Llama3, factor,
                OptionalNumber(s, "low_freq_factor") ?? throw new InvalidDataException("rope_scaling of type llama3 has no low_freq_factor."),
                OptionalNumber(s, "high_freq_factor") ?? throw new InvalidDataException("rope_scaling of type llama3 has no high_freq_factor."),
                OptionalInteger(s, "original_max_position_embeddings")
                    ?? throw new InvalidDataException("rope_scaling of type llama3 has no original_max_position_embeddings.")),
            _ => throw new InvalidDataException(
                $"rope_scaling of type '{kind}' is not supported (supported: default, linear, llama3)."),
        };
    }

    private static long Integer(JsonElement json, string name) =>
        OptionalInteger(json, name) ?? throw new InvalidDataException($"the configuration has no {name}.");

    private static int Count(JsonElement json, string name)
    {
        long value = Integer(json, name);
        return value is >= int.MinValue and <= int.MaxValue
            ? (int)value
            : throw new InvalidDataException($"{name} ({value}) is too large.");
    }

    private static long? OptionalInteger(JsonElement json, string name)
    {
        if (!json.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.Array && name.EndsWith("_token_id", StringComparison.Ordinal))
        {
            // eos_token_id may list several ids; none of the ids read here needs more than the first.
            value = value.EnumerateArray().FirstOrDefault();
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long number)
            ? number
            : throw new InvalidDataException($"{name} is {value.GetRawText()}, not an integer.");
    }

    private static double? OptionalNumber(JsonElement json, string name)
    {
        if (!json.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double number) && double.IsFinite(number)
            ? number
            : throw new InvalidDataException($"{name} is {value.GetRawText()}, not a finite number.");
    }

    private static bool? OptionalBool(JsonElement json, string name)
    {
        if (!json.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidDataException($"{name} is {value.GetRawText()}, not true or false."),
        };
    }

    private static string? OptionalString(JsonElement json, string name)
    {
        if (!json.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new InvalidDataException($"{name} is {value.GetRawText()}, not a string.");
    }
}
