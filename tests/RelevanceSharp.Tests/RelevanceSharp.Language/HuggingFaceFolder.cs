using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using RelevanceSharp.Language.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Language;

/// <summary>
/// Writes small Hugging Face model folders for the tests: config.json with Hugging Face's field names, the weights as
/// safetensors in float32, float16 or bfloat16 (one file, or shards with model.safetensors.index.json), and a tokenizer
/// from the test data.
/// </summary>
internal static class HuggingFaceFolder
{
    /// <summary>Hugging Face's config.json for a configuration.</summary>
    public static string ConfigJson(DecoderConfig c) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["architectures"] = new[] { c.ModelType == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM" },
        ["model_type"] = c.ModelType,
        ["vocab_size"] = c.VocabSize,
        ["hidden_size"] = c.HiddenSize,
        ["intermediate_size"] = c.IntermediateSize,
        ["num_hidden_layers"] = c.Layers,
        ["num_attention_heads"] = c.AttentionHeads,
        ["num_key_value_heads"] = c.KeyValueHeads,
        ["head_dim"] = c.HeadDim,
        ["hidden_act"] = "silu",
        ["rms_norm_eps"] = c.RmsNormEps,
        ["rope_theta"] = c.RopeTheta,
        ["rope_scaling"] = null,
        ["tie_word_embeddings"] = c.TieWordEmbeddings,
        ["max_position_embeddings"] = 64,
        ["torch_dtype"] = "bfloat16",
    });

    /// <summary>
    /// Writes <paramref name="model"/> into <paramref name="folder"/>: config.json, its weights in <paramref name="dtype"/>
    /// (F32, F16 or BF16) split over <paramref name="shards"/> files, and the tokenizer file(s) named.
    /// </summary>
    public static void Write(string folder, DecoderModel model, string dtype, int shards, params string[] tokenizerFiles)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), ConfigJson(model.Config));
        var weights = model.ExpectedWeights().Keys
            .Select(name => (Name: name, Tensor: (Tensor)model.named_parameters().First(p => p.name == name).parameter))
            .ToList();
        if (shards == 1)
        {
            WriteSafeTensors(Path.Combine(folder, "model.safetensors"), weights.Select(w => (w.Name, dtype, w.Tensor)));
        }
        else
        {
            var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (int s = 0; s < shards; s++)
            {
                string file = $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
                var part = weights.Where((_, i) => i % shards == s).ToList();
                WriteSafeTensors(Path.Combine(folder, file), part.Select(w => (w.Name, dtype, w.Tensor)));
                foreach (var w in part)
                {
                    map[w.Name] = file;
                }
            }
            WriteIndex(folder, map);
        }
        foreach (string name in tokenizerFiles)
        {
            File.Copy(Path.Combine(LanguageTestKit.Data, name), Path.Combine(folder, name));
        }
    }

    /// <summary>Writes model.safetensors.index.json with the given map.</summary>
    public static void WriteIndex(string folder, IReadOnlyDictionary<string, string> map) =>
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["metadata"] = new Dictionary<string, object> { ["total_size"] = 0 },
            ["weight_map"] = map,
        }));

    /// <summary>Reads the weight map of a folder's index.</summary>
    public static Dictionary<string, string> ReadIndex(string folder)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "model.safetensors.index.json")));
        return document.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    /// <summary>The damages to a sharded folder that both the loader's and explain-text's tests make.</summary>
    public static readonly string[] ShardDamages = ["missing shard", "wrong shape", "parent path", "absolute path"];

    /// <summary>
    /// Damages a sharded folder in one of <see cref="ShardDamages"/>, at the entry <paramref name="key"/> (a [16, 16]
    /// weight): its shard deleted; the weight written as [24, 16] (the shard's other entries from
    /// <paramref name="weight"/>, in <paramref name="dtype"/>); or the index pointing at its shard by a path that climbs
    /// out with '..' and back in, or by an absolute path inside the folder, both of which must be refused by their form.
    /// </summary>
    public static void Damage(string folder, string damage, string key, string dtype, Func<string, Tensor> weight)
    {
        Dictionary<string, string> map = ReadIndex(folder);
        string shard = map[key];
        switch (damage)
        {
            case "missing shard":
                File.Delete(Path.Combine(folder, shard));
                return;
            case "wrong shape":
                WriteSafeTensors(Path.Combine(folder, shard), map.Where(e => e.Value == shard)
                    .Select(e => (e.Key, dtype, e.Key == key ? zeros(24, 16) : weight(e.Key))));
                return;
            case "parent path":
                map[key] = "../" + Path.GetFileName(folder) + "/" + shard;
                break;
            case "absolute path":
                map[key] = Path.Combine(folder, shard);
                break;
            default:
                throw new ArgumentException($"Unknown damage '{damage}'.", nameof(damage));
        }
        WriteIndex(folder, map);
    }

    /// <summary>
    /// A safetensors file of (name, dtype, tensor) entries; the values are rounded to float16 or bfloat16 (to nearest,
    /// ties to even) or written as float32, float64 or int64.
    /// </summary>
    public static void WriteSafeTensors(string path, IEnumerable<(string Name, string DType, Tensor Tensor)> entries)
    {
        var header = new Dictionary<string, object>();
        var data = new MemoryStream();
        foreach (var (name, dtype, tensor) in entries)
        {
            double[] values = Support.D(tensor);
            long start = data.Length;
            foreach (double v in values)
            {
                switch (dtype)
                {
                    case "F64": Write(data, BitConverter.GetBytes(v)); break;
                    case "F32": Write(data, BitConverter.GetBytes((float)v)); break;
                    case "F16": Write(data, BitConverter.GetBytes((Half)(float)v)); break;
                    case "BF16": Write(data, BitConverter.GetBytes(BFloat16Bits((float)v))); break;
                    case "I64": Write(data, BitConverter.GetBytes((long)v)); break;
                    default: throw new ArgumentException(dtype);
                }
            }
            header[name] = new Dictionary<string, object> { ["dtype"] = dtype, ["shape"] = tensor.shape, ["data_offsets"] = new[] { start, data.Length } };
        }
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        using var file = File.Create(path);
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        file.Write(length);
        file.Write(json);
        data.Position = 0;
        data.CopyTo(file);
    }

    private static void Write(Stream stream, byte[] bytes) => stream.Write(bytes);

    /// <summary>The bfloat16 bits of a float, rounded to nearest even.</summary>
    public static ushort BFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>A tensor's values rounded as they are stored in <paramref name="dtype"/>.</summary>
    public static Tensor Rounded(Tensor tensor, string dtype) => dtype switch
    {
        "F16" => tensor.to(ScalarType.Float32).to(ScalarType.Float16).to(ScalarType.Float64),
        "BF16" => tensor.to(ScalarType.Float32).to(ScalarType.BFloat16).to(ScalarType.Float64),
        "F32" => tensor.to(ScalarType.Float32).to(ScalarType.Float64),
        _ => tensor.to(ScalarType.Float64),
    };
}
