using RelevanceSharp.Core;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>Runs several weight sets of one layer as a single call, their outputs side by side along the channels.</summary>
internal static class Stacking
{
    /// <summary>Whether the layer and parameter sets allow stacking (dense layers and ungrouped convolutions).</summary>
    public static bool CanStack(nn.Module module, IReadOnlyList<IReadOnlyDictionary<string, Tensor?>> parameters)
    {
        if (!Ungrouped(module))
        {
            return false;
        }
        long[]? shape = null;
        foreach (var set in parameters)
        {
            if (!set.TryGetValue("weight", out Tensor? weight) || weight is null || set.Count > 2)
            {
                return false;
            }
            shape ??= weight.shape;
            if (!shape.SequenceEqual(weight.shape))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Whether every output channel of the layer reads every input channel (dense layers, ungrouped convolutions), so
    /// that weight sets can be joined along either channel dimension.
    /// </summary>
    public static bool Ungrouped(nn.Module module) => module switch
    {
        Linear => true,
        Convolution convolution => convolution.groups == 1,
        _ => false,
    };

    /// <summary>The layer applied with all weight sets at once.</summary>
    public static Tensor Forward(nn.Module<Tensor, Tensor> module, Tensor input, IReadOnlyList<IReadOnlyDictionary<string, Tensor?>> parameters)
    {
        // Output channels sit in dimension 0 of dense and convolution weights, in dimension 1 of transposed ones.
        long weightDim = module is ConvolutionTranspose ? 1 : 0;
        Tensor weight = cat(parameters.Select(p => p["weight"]!).ToList(), weightDim);
        long channels = parameters[0]["weight"]!.shape[weightDim];
        var biases = parameters.Select(p => p.TryGetValue("bias", out Tensor? value) ? value : null).ToList();
        Tensor? bias = null;
        if (biases.Any(v => v is not null))
        {
            Tensor? map = biases.FirstOrDefault(v => v is not null && v.dim() > 1);
            var filled = biases.Select(v =>
            {
                Tensor vector = v ?? zeros(channels, weight.dtype, weight.device);
                return map is null || vector.dim() > 1
                    ? vector
                    : vector.view(new long[] { channels }.Concat(Enumerable.Repeat(1L, (int)map.dim() - 1)).ToArray()).expand(map.shape);
            }).ToList();
            bias = cat(filled, 0);
        }
        return LayerCompute.Forward(module, input, new Dictionary<string, Tensor?> { ["weight"] = weight, ["bias"] = bias });
    }

    /// <summary>The output of weight set <paramref name="index"/> out of <paramref name="count"/> stacked ones.</summary>
    public static Tensor Part(nn.Module module, Tensor stacked, int index, int count)
    {
        long dim = module is Linear ? stacked.dim() - 1 : 1;
        long size = stacked.shape[dim] / count;
        return stacked.narrow(dim, index * size, size);
    }

    /// <summary>Per-set output gradients joined in the stacked layout.</summary>
    public static Tensor Join(nn.Module module, IReadOnlyList<Tensor> parts)
    {
        long dim = module is Linear ? parts[0].dim() - 1 : 1;
        return cat(parts.ToList(), dim);
    }
}
