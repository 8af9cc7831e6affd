using RelevanceSharp.Core;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>Checks of attribution inputs, and readable explanations when the model rejects one.</summary>
public static class InputChecks
{
    /// <summary>Throws when the input holds NaN or infinite values.</summary>
    public static void EnsureFinite(Tensor input)
    {
        if (!input.is_floating_point())
        {
            throw new ArgumentException($"The input must be a floating-point tensor; got {input.dtype}.", nameof(input));
        }
        using var scope = NewDisposeScope();
        long nan = isnan(input).sum().item<long>();
        if (nan > 0)
        {
            throw new ArgumentException($"The input contains {nan} NaN value(s).", nameof(input));
        }
        long inf = isinf(input).sum().item<long>();
        if (inf > 0)
        {
            throw new ArgumentException($"The input contains {inf} infinite value(s).", nameof(input));
        }
    }

    /// <summary>
    /// Whether an exception came from the model refusing the input: an error of libtorch (or a TorchSharp argument
    /// check) that no rule raised in the backward pass. A rule's failure reaches the caller as it is.
    /// </summary>
    public static bool IsModelRejection(Exception ex) =>
        !BackwardFailures.CameFromRule(ex)
        && (ex is System.Runtime.InteropServices.ExternalException || (ex is ArgumentException && ex.StackTrace?.Contains("TorchSharp", StringComparison.Ordinal) == true));

    /// <summary>Wraps a model's refusal of an input into a message that names the shapes involved.</summary>
    public static ArgumentException Explain(nn.Module model, Tensor input, Exception inner)
    {
        string firstLine = inner.Message.Split('\n')[0].Trim();
        string hint = ExpectedInput(model) is { } expected ? $" The model's first layer, {expected}." : "";
        return new ArgumentException(
            $"The model cannot process an input of shape {TensorShapes.Format(input.shape)}.{hint} ({firstLine})", nameof(input), inner);
    }

    /// <summary>What the first parameterized layer (in registration order) expects, e.g. "Conv2d(3 -> 64), expects (N, 3, H, W)".</summary>
    public static string? ExpectedInput(nn.Module model)
    {
        foreach (var (_, module) in model.NamedLeaves())
        {
            switch (module)
            {
                case Convolution conv:
                    string spatial = string.Join(", ", new[] { "D", "H", "W" }.Skip(3 - conv.kernel_size.Length));
                    return $"{module.Describe()}, expects input of shape (N, {conv.in_channels}, {spatial})";
                case Linear linear:
                    return $"{module.Describe()}, expects input of shape (N, {linear.in_features})";
            }
        }
        return null;
    }
}
