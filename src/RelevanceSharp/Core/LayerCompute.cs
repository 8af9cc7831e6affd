using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RelevanceSharp.Core;

/// <summary>Computes a module's forward pass functionally, with parameters supplied by a rule.</summary>
public static class LayerCompute
{
    /// <summary>
    /// Computes a module that takes several tensors on <paramref name="inputs"/> with <paramref name="parameters"/>
    /// in place of its own: <c>Bilinear</c> functionally, a module without parameters by its own forward (its hooks do
    /// not run). The module is not changed.
    /// </summary>
    public static Tensor Forward(nn.Module module, IReadOnlyList<Tensor> inputs, IReadOnlyDictionary<string, Tensor?> parameters)
    {
        if (module is Bilinear)
        {
            return F.bilinear(inputs[0], inputs[1], Required(module, parameters, "weight"), Optional(parameters, "bias"));
        }
        if (module.parameters(recurse: true).Any())
        {
            throw new NotSupportedException(
                $"Cannot recompute {module.Describe()} with modified parameters: of the modules with several inputs, " +
                "RelevanceSharp computes Bilinear functionally and runs parameter-free ones as they are; give this module " +
                "a rule that does not modify parameters, or split it into layers that take one input.");
        }
        return MultiInputModules.Forward(module, inputs);
    }

    /// <summary>
    /// Computes <paramref name="module"/> on <paramref name="input"/> with <paramref name="parameters"/> in place of
    /// its own. The module is not changed and its hooks do not run.
    /// </summary>
    public static Tensor Forward(nn.Module<Tensor, Tensor> module, Tensor input, IReadOnlyDictionary<string, Tensor?> parameters)
    {
        switch (module)
        {
            case IFunctionalLayer functional:
                return functional.Forward(input, parameters);
            case Linear:
                return AddBias(F.linear(input, Required(module, parameters, "weight")), Optional(parameters, "bias"), input.dim() - 1);
            case ConvolutionTranspose transposed:
                return ConvolutionTransposed(transposed, input, Required(module, parameters, "weight"), Optional(parameters, "bias"));
            case Convolution convolution:
                return ConvolutionForward(convolution, input, Required(module, parameters, "weight"), Optional(parameters, "bias"));
            case BatchNorm batchNorm:
                return F.batch_norm(input, batchNorm.running_mean, batchNorm.running_var,
                    Optional(parameters, "weight"), Optional(parameters, "bias"),
                    training: batchNorm.training && batchNorm.running_mean is null, momentum: batchNorm.momentum ?? 0.1, eps: batchNorm.eps);
            case InstanceNorm instanceNorm:
                // As the module computes it, but without updating its running statistics.
                return F.instance_norm(input,
                    instanceNorm.track_running_stats ? instanceNorm.running_mean : null,
                    instanceNorm.track_running_stats ? instanceNorm.running_var : null,
                    Optional(parameters, "weight"), Optional(parameters, "bias"),
                    use_input_stats: instanceNorm.training || !instanceNorm.track_running_stats, eps: instanceNorm.eps);
            case LayerNorm layerNorm:
                return F.layer_norm(input, layerNorm.normalized_shape, Optional(parameters, "weight"), Optional(parameters, "bias"), layerNorm.eps);
            case GroupNorm groupNorm:
                return F.group_norm(input, groupNorm.num_groups, Optional(parameters, "weight"), Optional(parameters, "bias"), groupNorm.eps);
            case PReLU:
                return F.prelu(input, Required(module, parameters, "weight"));
            default:
                if (module.parameters(recurse: true).Any())
                {
                    throw new NotSupportedException(
                        $"Cannot recompute {module.Describe()} with modified parameters: RelevanceSharp computes Linear, " +
                        "Bilinear, convolution, batch, instance, layer and group norm and PReLU layers functionally; implement " +
                        "IFunctionalLayer on this module type or give it a rule that does not modify parameters.");
                }
                return module.forward(input);
        }
    }

    /// <summary>
    /// A view of <paramref name="bias"/>, as <see cref="LayerParameters.Effective"/> gives it for
    /// <paramref name="module"/>, that broadcasts against the module's <paramref name="output"/>: along the last
    /// dimension for dense layers, over the trailing normalized dimensions for layer norms, along dimension 1 (the
    /// channels) for the others.
    /// </summary>
    public static Tensor BiasFor(nn.Module module, Tensor bias, Tensor output)
    {
        if (module is LayerNorm && bias.dim() < output.dim())
        {
            long[] shape = Enumerable.Repeat(1L, (int)(output.dim() - bias.dim())).Concat(bias.shape).ToArray();
            return bias.view(shape);
        }
        return BroadcastBias(bias, output.dim(), module is Linear ? output.dim() - 1 : 1);
    }

    /// <summary>Adds a bias vector along <paramref name="channelDim"/>, or a bias map (channels first) per sample.</summary>
    public static Tensor AddBias(Tensor output, Tensor? bias, long channelDim) =>
        bias is null ? output : output.add(BroadcastBias(bias, output.dim(), channelDim), Scalars.One);

    /// <summary>
    /// A view of a bias that broadcasts against an output of <paramref name="outputDims"/> dimensions: a vector along
    /// <paramref name="channelDim"/>, or a map over output positions (C, *spatial) with a leading batch dimension.
    /// </summary>
    public static Tensor BroadcastBias(Tensor bias, long outputDims, long channelDim)
    {
        if (bias.dim() == 1)
        {
            long[] shape = Enumerable.Repeat(1L, (int)outputDims).ToArray();
            shape[channelDim] = bias.shape[0];
            return bias.view(shape);
        }
        return bias.unsqueeze(0);
    }

    /// <summary>The zero-based spatial padding of a convolution as (left, right) pairs, one per spatial dimension.</summary>
    public static (long Left, long Right)[] SpatialPadding(Convolution convolution)
    {
        int dims = convolution.kernel_size.Length;
        var result = new (long, long)[dims];
        if (convolution.padding_type == Padding.Same)
        {
            for (int i = 0; i < dims; i++)
            {
                long total = convolution.dilation[i] * (convolution.kernel_size[i] - 1);
                result[i] = (total / 2, total - total / 2);
            }
        }
        else if (convolution.padding is { } padding)
        {
            for (int i = 0; i < dims; i++)
            {
                long p = padding.Length == 1 ? padding[0] : padding[i];
                result[i] = (p, p);
            }
        }
        return result;
    }

    /// <summary>Pads an input as the convolution's own padding mode does, for a convolution without padding.</summary>
    public static Tensor PadInput(Convolution convolution, Tensor input, PaddingModes? mode = null)
    {
        (long Left, long Right)[] pads = SpatialPadding(convolution);
        var reversed = new long[pads.Length * 2];
        for (int i = 0; i < pads.Length; i++)
        {
            int target = (pads.Length - 1 - i) * 2;
            reversed[target] = pads[i].Left;
            reversed[target + 1] = pads[i].Right;
        }
        PaddingModes padMode = mode ?? convolution.padding_mode;
        if (padMode == PaddingModes.Constant)
        {
            padMode = PaddingModes.Zeros;
        }
        return reversed.All(p => p == 0) ? input.alias() : F.pad(input, reversed, padMode == PaddingModes.Zeros ? PaddingModes.Constant : padMode, 0.0);
    }

    private static Tensor ConvolutionForward(Convolution convolution, Tensor input, Tensor weight, Tensor? bias)
    {
        int dims = convolution.kernel_size.Length;
        (long Left, long Right)[] pads = SpatialPadding(convolution);
        bool symmetric = pads.All(p => p.Left == p.Right);
        bool zeroMode = convolution.padding_mode is PaddingModes.Zeros or PaddingModes.Constant;
        Tensor x = input;
        long[] padding;
        if (zeroMode && symmetric)
        {
            padding = pads.Select(p => p.Left).ToArray();
        }
        else
        {
            x = PadInput(convolution, input);
            padding = new long[dims];
        }
        Tensor? vectorBias = bias is not null && bias.dim() == 1 ? bias : null;
        Tensor result = dims switch
        {
            1 => F.conv1d(x, weight, vectorBias, convolution.stride[0], padding[0], convolution.dilation[0], convolution.groups),
            2 => F.conv2d(x, weight, vectorBias, convolution.stride, padding, convolution.dilation, convolution.groups),
            3 => F.conv3d(x, weight, vectorBias, convolution.stride, padding, convolution.dilation, convolution.groups),
            _ => throw new NotSupportedException($"Convolutions over {dims} dimensions are not supported."),
        };
        return vectorBias is null && bias is not null ? AddBias(result, bias, 1) : result;
    }

    private static Tensor ConvolutionTransposed(ConvolutionTranspose convolution, Tensor input, Tensor weight, Tensor? bias)
    {
        int dims = convolution.kernel_size.Length;
        long[] padding = convolution.padding ?? new long[dims];
        Tensor? vectorBias = bias is not null && bias.dim() == 1 ? bias : null;
        Tensor result = dims switch
        {
            1 => F.conv_transpose1d(input, weight, vectorBias, convolution.stride[0], padding[0], convolution.output_padding[0], convolution.dilation[0], convolution.groups),
            2 => F.conv_transpose2d(input, weight, vectorBias, convolution.stride, padding, convolution.output_padding, convolution.dilation, convolution.groups),
            3 => F.conv_transpose3d(input, weight, vectorBias, convolution.stride, padding, convolution.output_padding, convolution.dilation, convolution.groups),
            _ => throw new NotSupportedException($"Transposed convolutions over {dims} dimensions are not supported."),
        };
        return vectorBias is null && bias is not null ? AddBias(result, bias, 1) : result;
    }

    private static Tensor Required(nn.Module module, IReadOnlyDictionary<string, Tensor?> parameters, string name) =>
        parameters.TryGetValue(name, out Tensor? value) && value is not null
            ? value
            : throw new InvalidOperationException($"{module.Describe()} has no parameter '{name}'.");

    private static Tensor? Optional(IReadOnlyDictionary<string, Tensor?> parameters, string name) =>
        parameters.TryGetValue(name, out Tensor? value) ? value : null;
}
