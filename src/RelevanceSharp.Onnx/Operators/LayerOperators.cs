using RelevanceSharp.Core;
using RelevanceSharp.Onnx.Building;
using RelevanceSharp.Onnx.Modules;
using TorchSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>
/// Layers with weights become TorchSharp's own modules (<c>Conv1d</c>-<c>Conv3d</c>, <c>ConvTranspose1d</c>-<c>3d</c>,
/// <c>Linear</c>), so that the rules, composites and canonizers written for those apply unchanged. Padding that a
/// TorchSharp module cannot express (different before and after) becomes a <see cref="Pad"/> module before a
/// convolution, or a <see cref="Slice"/> after a transposed one.
/// </summary>
internal static class LayerOperators
{
    public static void Conv(NodeContext context)
    {
        context.Attributes("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides");
        Value x = context.Input(0);
        Tensor weight = Helpers.Weight(context, 1, "weight");
        Tensor? bias = context.Optional(2) is null ? null : Helpers.Weight(context, 2, "bias");
        int n = x.Rank - 2;
        if (n is < 1 or > 3 || weight.dim() != n + 2)
        {
            throw context.Fail($"convolutions of input rank {x.Rank} with a weight of rank {weight.dim()} are not supported (1 to 3 spatial dimensions)");
        }
        long group = context.Int("group", 1);
        long outChannels = weight.shape[0];
        long inChannels = x.Shape[1];
        if (group < 1 || inChannels % group != 0 || outChannels % group != 0 || weight.shape[1] * group != inChannels)
        {
            throw context.Fail($"its weight of shape {TensorShapes.Format(weight.shape)} with {group} groups does not fit an input of {inChannels} channels");
        }
        long[] kernel = weight.shape.Skip(2).ToArray();
        if (context.Ints("kernel_shape") is { } given && !given.SequenceEqual(kernel))
        {
            throw context.Fail($"its kernel_shape [{string.Join(", ", given)}] differs from its weight's [{string.Join(", ", kernel)}]");
        }
        if (bias is not null && (bias.dim() != 1 || bias.shape[0] != outChannels))
        {
            throw context.Fail($"its bias has shape {TensorShapes.Format(bias.shape)}, where [{outChannels}] is needed");
        }
        Spatial window = Spatial.Read(context, x.Shape, kernel);
        for (int d = 0; d < n; d++)
        {
            if (x.Shape[d + 2] + window.PadBegin[d] + window.PadEnd[d] < (kernel[d] - 1) * window.Dilations[d] + 1)
            {
                throw context.Fail($"its kernel is larger than the padded input in spatial dimension {d + 1}");
            }
        }
        long[] padding = window.Symmetric ? window.PadBegin : new long[n];
        if (!window.Symmetric)
        {
            x = context.Module(new Pad([0, 0, .. window.PadBegin], [0, 0, .. window.PadEnd]), "pad", x);
        }
        Convolution conv = n switch
        {
            1 => nn.Conv1d(inChannels, outChannels, kernel[0], window.Strides[0], padding[0], window.Dilations[0],
                PaddingModes.Zeros, group, bias is not null, dtype: context.FloatType),
            2 => nn.Conv2d(inChannels, outChannels, (kernel[0], kernel[1]), (window.Strides[0], window.Strides[1]),
                (padding[0], padding[1]), (window.Dilations[0], window.Dilations[1]), PaddingModes.Zeros, group, bias is not null,
                dtype: context.FloatType),
            _ => nn.Conv3d(inChannels, outChannels, (kernel[0], kernel[1], kernel[2]), (window.Strides[0], window.Strides[1], window.Strides[2]),
                (padding[0], padding[1], padding[2]), (window.Dilations[0], window.Dilations[1], window.Dilations[2]),
                PaddingModes.Zeros, group, bias is not null, dtype: context.FloatType),
        };
        Helpers.Fill(context, conv.weight!, weight, "weight");
        if (bias is not null)
        {
            Helpers.Fill(context, conv.bias!, bias, "bias");
        }
        context.Output(0, context.Module(conv, null, x));
    }

    public static void ConvTranspose(NodeContext context)
    {
        context.Attributes("auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides");
        Value x = context.Input(0);
        Tensor weight = Helpers.Weight(context, 1, "weight");
        Tensor? bias = context.Optional(2) is null ? null : Helpers.Weight(context, 2, "bias");
        int n = x.Rank - 2;
        if (n is < 1 or > 3 || weight.dim() != n + 2)
        {
            throw context.Fail($"transposed convolutions of input rank {x.Rank} with a weight of rank {weight.dim()} are not supported (1 to 3 spatial dimensions)");
        }
        long group = context.Int("group", 1);
        long inChannels = x.Shape[1];
        if (group < 1 || weight.shape[0] != inChannels || inChannels % group != 0)
        {
            throw context.Fail($"its weight of shape {TensorShapes.Format(weight.shape)} with {group} groups does not fit an input of {inChannels} channels");
        }
        long outChannels = weight.shape[1] * group;
        long[] kernel = weight.shape.Skip(2).ToArray();
        if (context.Ints("kernel_shape") is { } given && !given.SequenceEqual(kernel))
        {
            throw context.Fail($"its kernel_shape [{string.Join(", ", given)}] differs from its weight's [{string.Join(", ", kernel)}]");
        }
        if (bias is not null && (bias.dim() != 1 || bias.shape[0] != outChannels))
        {
            throw context.Fail($"its bias has shape {TensorShapes.Format(bias.shape)}, where [{outChannels}] is needed");
        }
        long[] strides = Helpers.IntsOr(context, "strides", n, 1);
        long[] dilations = Helpers.IntsOr(context, "dilations", n, 1);
        long[] outputPadding = Helpers.IntsOr(context, "output_padding", n, 0);
        if (strides.Concat(dilations).Any(v => v < 1 || v > 1 << 20) || outputPadding.Any(p => p < 0 || p > 1 << 20))
        {
            throw context.Fail("its strides, dilations or output padding are out of range");
        }
        string autoPad = context.String("auto_pad", "NOTSET");
        long[]? outputShape = context.Ints("output_shape");
        var begin = new long[n];
        var end = new long[n];
        var natural = new long[n];
        for (int d = 0; d < n; d++)
        {
            natural[d] = strides[d] * (x.Shape[d + 2] - 1) + outputPadding[d] + (kernel[d] - 1) * dilations[d] + 1;
        }
        if (outputShape is not null || autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            long[] wanted = outputShape is null ? x.Shape.Skip(2).Select((s, d) => s * strides[d]).ToArray()
                : outputShape.Length == n ? outputShape
                : outputShape.Length == n + 2 ? outputShape.Skip(2).ToArray()
                : throw context.Fail($"its output_shape has {outputShape.Length} values for {n} spatial dimensions");
            for (int d = 0; d < n; d++)
            {
                long total = natural[d] - wanted[d];
                if (total < 0)
                {
                    throw context.Fail($"its output_shape asks for {wanted[d]} elements in spatial dimension {d + 1}, more than the {natural[d]} it computes");
                }
                begin[d] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                end[d] = total - begin[d];
            }
        }
        else if (autoPad == "NOTSET")
        {
            long[] pads = Helpers.IntsOr(context, "pads", 2 * n, 0);
            if (pads.Any(p => p < 0))
            {
                throw context.Fail($"its pads [{string.Join(", ", pads)}] are negative");
            }
            Array.Copy(pads, 0, begin, 0, n);
            Array.Copy(pads, n, end, 0, n);
        }
        else if (autoPad != "VALID")
        {
            throw context.Fail($"its auto_pad '{Errors.Clip(autoPad)}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
        }
        for (int d = 0; d < n; d++)
        {
            if (outputPadding[d] >= Math.Max(strides[d], dilations[d]))
            {
                throw context.Fail($"its output padding {outputPadding[d]} must be smaller than its stride or dilation");
            }
            if (begin[d] + end[d] >= natural[d])
            {
                throw context.Fail($"its pads remove the whole output in spatial dimension {d + 1}");
            }
        }
        Helpers.CheckSize(context, new[] { x.Shape[0], outChannels }.Concat(natural), "output");
        bool symmetric = begin.SequenceEqual(end);
        long[] padding = symmetric ? begin : new long[n];
        ConvolutionTranspose conv = n switch
        {
            1 => nn.ConvTranspose1d(inChannels, outChannels, kernel[0], strides[0], padding[0], outputPadding[0], dilations[0],
                PaddingModes.Zeros, group, bias is not null, dtype: context.FloatType),
            2 => nn.ConvTranspose2d(inChannels, outChannels, (kernel[0], kernel[1]), (strides[0], strides[1]), (padding[0], padding[1]),
                (outputPadding[0], outputPadding[1]), (dilations[0], dilations[1]), PaddingModes.Zeros, group, bias is not null,
                dtype: context.FloatType),
            _ => nn.ConvTranspose3d(inChannels, outChannels, (kernel[0], kernel[1], kernel[2]), (strides[0], strides[1], strides[2]),
                (padding[0], padding[1], padding[2]), (outputPadding[0], outputPadding[1], outputPadding[2]),
                (dilations[0], dilations[1], dilations[2]), PaddingModes.Zeros, group, bias is not null, dtype: context.FloatType),
        };
        Helpers.Fill(context, conv.weight!, weight, "weight");
        if (bias is not null)
        {
            Helpers.Fill(context, conv.bias!, bias, "bias");
        }
        Value y = context.Module(conv, null, x);
        if (!symmetric)
        {
            long[] axes = Enumerable.Range(2, n).Select(a => (long)a).ToArray();
            long[] ends = Enumerable.Range(0, n).Select(d => natural[d] - end[d]).ToArray();
            y = context.Module(new Modules.Slice(begin, ends, axes, Enumerable.Repeat(1L, n).ToArray()), "crop", y);
        }
        context.Output(0, y);
    }

    public static void Gemm(NodeContext context)
    {
        context.Attributes("alpha", "beta", "transA", "transB");
        double alpha = context.Float("alpha", 1.0);
        double beta = context.Float("beta", 1.0);
        bool transA = context.Int("transA", 0) != 0;
        bool transB = context.Int("transB", 0) != 0;
        Value a = context.Input(0);
        Value b = context.Input(1);
        Value? c = context.Version >= 11 ? context.Optional(2) : context.Input(2);
        if (a.Rank != 2 || b.Rank != 2)
        {
            throw context.Fail($"Gemm multiplies matrices; its inputs have ranks {a.Rank} and {b.Rank}");
        }
        if (a.IsConstant && b.IsConstant)
        {
            Value folded = context.Fold(xs =>
            {
                Tensor left = transA ? xs[0].t() : xs[0];
                Tensor right = transB ? xs[1].t() : xs[1];
                TensorShapes.MatMul(left.shape, right.shape, "Gemm");
                Tensor product = left.matmul(right).mul(Scalars.Of(alpha));
                return xs.Length > 2 ? product.add(xs[2].mul(Scalars.Of(beta)), Scalars.One) : product;
            }, c is null ? [a, b] : c.IsConstant ? [a, b, c] : throw context.Fail("its C is computed while A and B are constants"));
            context.Output(0, folded);
            return;
        }
        if (a.IsConstant)
        {
            throw context.Fail("its first factor is a constant and its second computed; only the reverse (a weight as B) is supported");
        }
        if (transA)
        {
            a = context.Module(new Permute([1, 0]), "transpose", a);
        }
        long inner = a.Shape[1];
        if (b.IsConstant)
        {
            Tensor weight = Helpers.Weight(context, 1, "B");
            weight = transB ? weight : weight.t();
            if (weight.shape[1] != inner)
            {
                throw context.Fail($"its B of shape {TensorShapes.Format(context.Input(1).Shape)} does not fit an A of {inner} columns");
            }
            long outputs = weight.shape[0];
            Tensor? bias = null;
            bool biasAsAdd = false;
            if (c is not null)
            {
                if (!c.IsConstant)
                {
                    throw context.Fail("its C is computed while B is a constant; only a constant C is supported then");
                }
                Tensor cValue = Helpers.Weight(context, 2, "C").mul(Scalars.Of(beta));
                if (cValue.numel() == 1 || cValue.numel() == outputs && (cValue.dim() == 1 || cValue.shape[^1] == outputs))
                {
                    bias = cValue.numel() == 1 ? cValue.reshape(1).expand(outputs).contiguous() : cValue.reshape(outputs);
                }
                else
                {
                    biasAsAdd = true;
                    bias = cValue;
                }
            }
            var linear = nn.Linear(inner, outputs, hasBias: bias is not null && !biasAsAdd, dtype: context.FloatType);
            Helpers.Fill(context, linear.weight!, alpha == 1.0 ? weight : weight.mul(Scalars.Of(alpha)), "B");
            if (bias is not null && !biasAsAdd)
            {
                Helpers.Fill(context, linear.bias!, bias, "C");
            }
            Value y = context.Module(linear, null, a);
            if (biasAsAdd)
            {
                y = ArithmeticOperators.WithConstant(context, y, bias!, ElementwiseOperation.AddConstant, "bias");
            }
            context.Output(0, y);
            return;
        }
        if (transB)
        {
            b = context.Module(new Permute([1, 0]), "transpose_b", b);
        }
        TensorShapes.MatMul(a.Shape, b.Shape, $"node {Errors.Describe(context.Node)}");
        Value result = context.Module(new Layers.MatMul(alpha), null, a, b);
        if (c is not null)
        {
            result = c.IsConstant
                ? ArithmeticOperators.WithConstant(context, result, Helpers.Float(context, c.Constant!).mul(Scalars.Of(beta)), ElementwiseOperation.AddConstant, "bias")
                : beta == 1.0 ? context.Module(new Layers.Add(), "add", result, c)
                : throw context.Fail("a computed C with beta other than 1 is not supported");
        }
        context.Output(0, result);
    }

    public static void MatMul(NodeContext context)
    {
        context.Attributes();
        Value a = context.Input(0);
        Value b = context.Input(1);
        if (a.Rank == 0 || b.Rank == 0)
        {
            throw context.Fail("MatMul needs factors of rank 1 or more");
        }
        TensorShapes.MatMul(a.Shape, b.Shape, $"node {Errors.Describe(context.Node)}");
        if (a.IsConstant && b.IsConstant)
        {
            context.Output(0, context.Fold(xs => xs[0].matmul(xs[1]), a, b));
            return;
        }
        if (b.IsConstant)
        {
            if (b.Rank != 2)
            {
                throw context.Fail($"its constant second factor has rank {b.Rank}; only a matrix (rank 2) is supported as a weight");
            }
            Tensor weight = Helpers.Weight(context, 1, "weight");
            long outputs = weight.shape[1];
            // A constant added right after (a dense layer's bias, as exporters write it) becomes the layer's bias.
            Tensor? bias = context.TakeFollowingBias(0, outputs);
            var linear = nn.Linear(weight.shape[0], outputs, hasBias: bias is not null, dtype: context.FloatType);
            Helpers.Fill(context, linear.weight!, weight.t(), "weight");
            if (bias is not null)
            {
                Helpers.Fill(context, linear.bias!, bias, "bias");
            }
            context.Output(0, context.Module(linear, null, a));
            return;
        }
        if (a.IsConstant)
        {
            throw context.Fail("its first factor is a constant and its second computed; only a constant second factor (a weight) is supported");
        }
        context.Output(0, context.Module(new Layers.MatMul(), null, a, b));
    }
}
