using System.Text.Json;
using RelevanceSharp.IO;
using static TorchSharp.torch;

namespace RelevanceSharp.Models;

/// <summary>
/// Builds models from a JSON architecture description (<c>model.json</c>): <c>{"arch": "sequential", ...}</c>,
/// <c>densenet</c> and <c>resnet</c> (torchvision's fields and defaults), and any architecture registered with
/// <see cref="Register"/>.
/// </summary>
public static class ModelSpec
{
    private static readonly Dictionary<string, Func<JsonElement, nn.Module<Tensor, Tensor>>> Builders =
        new(StringComparer.OrdinalIgnoreCase)
        {
            ["sequential"] = BuildSequential,
            ["densenet"] = DenseNet.FromSpec,
            ["resnet"] = ResNet.FromSpec,
        };

    /// <summary>Adds (or replaces) the builder of an architecture name.</summary>
    public static void Register(string arch, Func<JsonElement, nn.Module<Tensor, Tensor>> builder)
    {
        lock (Builders)
        {
            Builders[arch] = builder;
        }
    }

    /// <summary>Whether an architecture name can be built.</summary>
    public static bool IsKnown(string arch)
    {
        lock (Builders)
        {
            return Builders.ContainsKey(arch);
        }
    }

    /// <summary>
    /// Reads and builds a <c>model.json</c> file; any problem (not JSON, a missing or mistyped field, an unknown
    /// architecture or layer type, sizes libtorch refuses) is one <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static nn.Module<Tensor, Tensor> Load(string path)
    {
        using JsonDocument document = JsonInput.Load(path, "model description");
        try
        {
            return Build(document.RootElement);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: {ex.Message.Split('\n')[0].Trim().TrimEnd('.')}.", ex);
        }
    }

    /// <summary>Builds a model from its JSON description, in float32 and eval mode.</summary>
    public static nn.Module<Tensor, Tensor> Build(JsonElement spec)
    {
        string arch = spec.TryGetProperty("arch", out JsonElement a) ? a.GetString() ?? "" : "";
        Func<JsonElement, nn.Module<Tensor, Tensor>>? builder;
        lock (Builders)
        {
            Builders.TryGetValue(arch, out builder);
        }
        if (builder is null)
        {
            throw new NotSupportedException($"Unknown architecture '{arch}'; known: {string.Join(", ", Builders.Keys)}.");
        }
        nn.Module<Tensor, Tensor> model = builder(spec);
        model.eval();
        return model;
    }

    /// <summary>An integer field, or its default.</summary>
    public static long Int(JsonElement spec, string name, long fallback) =>
        spec.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : fallback;

    /// <summary>An integer list field, or its default.</summary>
    public static long[] Ints(JsonElement spec, string name, long[] fallback) =>
        spec.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().Select(v => v.GetInt64()).ToArray()
            : fallback;

    private static nn.Module<Tensor, Tensor> BuildSequential(JsonElement spec)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        int index = 0;
        foreach (JsonElement layer in spec.GetProperty("layers").EnumerateArray())
        {
            layers.Add((index.ToString(System.Globalization.CultureInfo.InvariantCulture), BuildLayer(layer, index)));
            index++;
        }
        return nn.Sequential(layers);
    }

    private static nn.Module<Tensor, Tensor> BuildLayer(JsonElement layer, int index)
    {
        string type = layer.GetProperty("type").GetString() ?? "";
        bool Bool(string name, bool fallback) =>
            layer.TryGetProperty(name, out JsonElement value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : fallback;
        double Double(string name, double fallback) =>
            layer.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : fallback;
        long kernel = Int(layer, "kernel", 1);
        return type switch
        {
            "conv2d" => nn.Conv2d(Int(layer, "in", 1), Int(layer, "out", 1), kernel, stride: Int(layer, "stride", 1),
                padding: Int(layer, "padding", 0), dilation: Int(layer, "dilation", 1), groups: Int(layer, "groups", 1), bias: Bool("bias", true)),
            "linear" => nn.Linear(Int(layer, "in", 1), Int(layer, "out", 1), hasBias: Bool("bias", true)),
            "batchnorm2d" => nn.BatchNorm2d(Int(layer, "features", 1), eps: Double("eps", 1e-5)),
            "batchnorm1d" => nn.BatchNorm1d(Int(layer, "features", 1), eps: Double("eps", 1e-5)),
            "relu" => nn.ReLU(inplace: Bool("inplace", false)),
            "maxpool2d" => nn.MaxPool2d(kernel, stride: Int(layer, "stride", kernel)),
            "avgpool2d" => nn.AvgPool2d(kernel, stride: Int(layer, "stride", kernel)),
            "adaptive_avgpool2d" => nn.AdaptiveAvgPool2d(Int(layer, "output", 1)),
            "flatten" => nn.Flatten(),
            _ => throw new NotSupportedException($"Layer {index} has the unknown type '{type}'."),
        };
    }
}
