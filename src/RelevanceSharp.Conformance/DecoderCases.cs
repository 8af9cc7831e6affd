using System.Text.Json;
using RelevanceSharp.Attribution;
using RelevanceSharp.Core;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Conformance;

/// <summary>
/// The cases of a decoder language model folder (<c>llama_tiny</c>): the input is token ids, and each case explains the
/// logit of <c>target_token</c> at <c>position</c> (-1: the last token) for every prompt of the batch, with the gradient
/// or a decoder composite (<see cref="DecoderComposites"/>: LXT's LLaMA recipes), seeded with the one-hot of the target
/// in LXT's gradient framework; the relevance is taken at the input embeddings.
/// </summary>
internal static class DecoderCases
{
    public static AttributionResult Run(DecoderModel model, Tensor ids, JsonElement spec, IReadOnlyList<string> canonizers, string casesPath)
    {
        if (canonizers.Count > 0)
        {
            throw new InvalidDataException($"{casesPath}: a decoder case takes no canonizers (got {string.Join(", ", canonizers)})");
        }
        string attributor = spec.GetProperty("attributor").GetProperty("name").GetString() ?? "";
        if (attributor != "gradient")
        {
            throw new NotSupportedException($"A decoder case runs the attributor 'gradient', not '{attributor}'.");
        }
        string attrOutput = spec.TryGetProperty("attr_output", out JsonElement kind) ? kind.GetString() ?? "onehot" : "onehot";
        if (attrOutput != "onehot")
        {
            throw new NotSupportedException($"A decoder case explains the one-hot of its target, not '{attrOutput}'.");
        }
        TextMethod method = Method(spec.GetProperty("composite"), casesPath);
        int target = spec.GetProperty("target_token").GetInt32();
        int position = spec.TryGetProperty("position", out JsonElement p) ? p.GetInt32() : -1;
        int batch = (int)ids.shape[0], tokens = (int)ids.shape[1];
        int at = position < 0 ? tokens + position : position;
        Tensor relevance = TextExplainer.Attribute(model, ids, method, Enumerable.Repeat(at, batch).ToArray(), Enumerable.Repeat(target, batch).ToArray());
        Tensor output;
        using (no_grad())
        {
            output = model.Logits(ids);
        }
        return new AttributionResult(output, relevance);
    }

    private static TextMethod Method(JsonElement composite, string casesPath)
    {
        if (composite.ValueKind == JsonValueKind.Null)
        {
            return TextMethod.Gradient;
        }
        string name = composite.GetProperty("name").GetString() ?? "";
        Stabilizer? epsilon = null;
        if (composite.TryGetProperty("args", out JsonElement args) && args.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty argument in args.EnumerateObject())
            {
                epsilon = argument.Name == "epsilon" && argument.Value.TryGetDouble(out double value)
                    ? new Stabilizer(value)
                    : throw new InvalidDataException($"{casesPath}: the decoder composite '{name}' takes only the argument epsilon, not '{argument.Name}'");
            }
        }
        return DecoderComposites.Method(name, epsilon);
    }
}
