using System.Text.Json;
using RelevanceSharp.IO;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Conformance;

/// <summary>
/// The one place that maps the <c>arch</c> of a <c>model.json</c> to the builder of that architecture:
/// <c>sequential</c>, <c>densenet</c>, <c>resnet</c> and <c>vit</c> (torchvision's fields and defaults) and <c>llama</c> (a
/// LLaMA-family decoder, Hugging Face's config.json fields) out of the box. A new
/// model family adds its builder here (or calls <see cref="Register"/> from its own code), and every conformance
/// check, <c>relevance verify</c> and the tests build it.
/// </summary>
public static class Architectures
{
    private static readonly Dictionary<string, Func<JsonElement, nn.Module<Tensor, Tensor>>> Builders =
        new(StringComparer.OrdinalIgnoreCase)
        {
            ["sequential"] = ModelSpec.Sequential,
            ["densenet"] = DenseNet.FromSpec,
            ["resnet"] = ResNet.FromSpec,
            ["vit"] = VisionTransformer.FromSpec,
            ["llama"] = spec => new DecoderModel(DecoderConfig.Parse(spec)),
        };

    /// <summary>The architecture names that can be built.</summary>
    public static IReadOnlyList<string> Names
    {
        get
        {
            lock (Builders)
            {
                return Builders.Keys.ToList();
            }
        }
    }

    /// <summary>Adds (or replaces) the builder of an architecture name.</summary>
    public static void Register(string arch, Func<JsonElement, nn.Module<Tensor, Tensor>> builder)
    {
        ArgumentNullException.ThrowIfNull(arch);
        ArgumentNullException.ThrowIfNull(builder);
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
    /// <exception cref="NotSupportedException">The architecture is unknown; the message lists the known ones.</exception>
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
            throw new NotSupportedException($"Unknown architecture '{arch}'; known: {string.Join(", ", Names)}.");
        }
        nn.Module<Tensor, Tensor> model = builder(spec);
        model.eval();
        return model;
    }
}
