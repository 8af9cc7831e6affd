using RelevanceSharp.Onnx;
using static TorchSharp.torch;

namespace RelevanceSharp.Fuzz;

/// <summary>
/// The ONNX reader: parses the bytes as a model, builds it (which runs every module once on the fixed input shape) and,
/// when that succeeds, runs the model on a batch of two (in parts, when the graph fixes another batch and can). A refusal is an <see cref="InvalidDataException"/>; anything
/// else escaping, a native crash or a hang is a finding. The limits are smaller than the defaults so that one input
/// cannot make a run slow on purpose within them; they bound the same code paths.
/// </summary>
public static class OnnxHarness
{
    private static readonly OnnxLimits Limits = new()
    {
        MaxFileBytes = 1 << 20,
        MaxTensorBytes = 1 << 22,
        MaxTotalConstantBytes = 1 << 24,
        MaxValueElements = 1 << 18,
        MaxNodes = 1000,
        MaxAttributeElements = 1 << 12,
    };

    /// <summary>Runs one input.</summary>
    public static void Run(byte[] data)
    {
        using OnnxModel model = OnnxModel.Load(data, "fuzz.onnx", new OnnxLoadOptions { Limits = Limits });
        using var noGrad = no_grad();
        long batch = model.BatchSize is { } fixedBatch && model.OutputShape.FirstOrDefault() != fixedBatch ? fixedBatch : 2;
        long[] shape = [batch, .. model.InputShape];
        model.forward(zeros(shape, model.FloatType)).Dispose();
    }
}
