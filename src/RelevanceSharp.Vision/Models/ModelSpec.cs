using System.Text.Json;
using static TorchSharp.torch;

namespace RelevanceSharp.Vision.Models;

/// <summary>
/// Reading model descriptions (<c>model.json</c>, as the conformance cases write them): typed fields with their
/// defaults, and the <c>sequential</c> architecture, a list of layers. Which <c>arch</c> is built by which builder is
/// decided in one place, RelevanceSharp.Conformance's <c>Architectures</c>.
/// </summary>
public static class ModelSpec
{
    /// <summary>An integer field, or its default.</summary>
    public static long Int(JsonElement spec, string name, long fallback) =>
        spec.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : fallback;

    /// <summary>An integer list field, or its default.</summary>
    public static long[] Ints(JsonElement spec, string name, long[] fallback) =>
        spec.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().Select(v => v.GetInt64()).ToArray()
            : fallback;

    /// <summary>
    /// Builds <c>{"arch": "sequential", "layers": [...]}</c>: each layer an object with a <c>type</c> (conv2d, linear,
    /// batchnorm2d, batchnorm1d, relu, maxpool2d, avgpool2d, adaptive_avgpool2d, flatten) and its sizes.
    /// </summary>
    /// <exception cref="NotSupportedException">A layer has an unknown type.</exception>
    public static nn.Module<Tensor, Tensor> Sequential(JsonElement spec)
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
