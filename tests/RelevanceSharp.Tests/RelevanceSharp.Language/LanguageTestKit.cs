using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.IO;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.IO;
using RelevanceSharp.Language.Models;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Language;

/// <summary>The llama_tiny reference model, the test data folder, and the transformer composites with a given stabilizer.</summary>
internal static class LanguageTestKit
{
    /// <summary>The folder of the tokenizer files and reference encodings (made by Data/make_tokenizers.py).</summary>
    public static string Data { get; } = Path.Combine(TestPaths.RepositoryRoot, "tests", "RelevanceSharp.Tests", "RelevanceSharp.Language", "Data");

    /// <summary>The llama_tiny conformance folder.</summary>
    public static string LlamaTiny { get; } = TestPaths.ConformancePath("llama_tiny");

    /// <summary>llama_tiny in float64 with its reference weights.</summary>
    public static DecoderModel LoadLlamaTiny()
    {
        DecoderConfig config = DecoderConfig.Load(Path.Combine(LlamaTiny, "model.json"));
        var model = new DecoderModel(config, ScalarType.Float64);
        DecoderCheckpoint.LoadWeights(model, Path.Combine(LlamaTiny, "weights.safetensors"));
        return model;
    }

    /// <summary>The reference tensors of llama_tiny (input ids, logits, one relevance per case).</summary>
    public static Dictionary<string, Tensor> Expected() => SafeTensors.Load(Path.Combine(LlamaTiny, "expected.safetensors"));

    /// <summary>AttnLRP for decoders, with the Linear layers' stabilizer given (exact input x gradient by default).</summary>
    public static Composite AttnLrp(double epsilon = 1e-9) => DecoderComposites.AttnLrp(new Stabilizer(epsilon));

    /// <summary>CP-LRP for decoders.</summary>
    public static Composite CpLrp(double epsilon = 1e-9) => DecoderComposites.CpLrp(new Stabilizer(epsilon));

    /// <summary>The conformance pass criterion: max|actual - expected| within atol + rtol * max|expected|.</summary>
    public static (double Error, double Allowed) Compare(Tensor actual, Tensor expected, double rtol = 1e-5, double atol = 1e-9)
    {
        double error = (actual.to(ScalarType.Float64) - expected).abs().max().item<double>();
        return (error, atol + rtol * expected.abs().max().item<double>());
    }
}
