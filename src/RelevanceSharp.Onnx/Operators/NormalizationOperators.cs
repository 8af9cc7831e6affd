using RelevanceSharp.Core;
using RelevanceSharp.Onnx.Building;
using RelevanceSharp.Onnx.Modules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Operators;

/// <summary>
/// Normalizations become TorchSharp's modules: <c>BatchNorm1d</c>-<c>3d</c> in evaluation mode with the file's
/// statistics (so that the batch-norm canonizers merge them, and composites give them <c>Pass</c>),
/// <c>InstanceNorm1d</c>-<c>3d</c>, <c>LayerNorm</c>.
/// </summary>
internal static class NormalizationOperators
{
    public static void BatchNormalization(NodeContext context)
    {
        switch (context.Version)
        {
            case 7:
                context.Attributes("epsilon", "momentum", "spatial");
                break;
            case 9:
                context.Attributes("epsilon", "momentum");
                break;
            default:
                context.Attributes("epsilon", "momentum", "training_mode");
                break;
        }
        if (context.Int("training_mode", 0) != 0)
        {
            throw context.Fail("it is in training mode (training_mode=1), which computes batch statistics; export the model in evaluation mode");
        }
        for (int i = 1; i < context.OutputCount; i++)
        {
            context.Unused(i, "a running statistic of training");
        }
        Value x = context.Input(0);
        double eps = Epsilon(context);
        Tensor scale = Helpers.Weight(context, 1, "scale");
        Tensor shift = Helpers.Weight(context, 2, "bias");
        Tensor mean = Helpers.Weight(context, 3, "mean");
        Tensor variance = Helpers.Weight(context, 4, "variance");
        if (x.Rank < 2)
        {
            throw context.Fail($"its input has rank {x.Rank}; a batch norm needs a batch and a channel dimension");
        }
        long channels = x.Shape[1];
        bool perChannel = new[] { scale, shift, mean, variance }.All(t => t.numel() == channels);
        bool spatial = context.Int("spatial", 1) != 0;
        if (!perChannel && !spatial)
        {
            // Opset 7's spatial=0: statistics per element of (C, D1, ...): an element-wise affine map.
            long[] perElement = x.Shape.Skip(1).ToArray();
            if (new[] { scale, shift, mean, variance }.Any(t => t.numel() != perElement.Aggregate(1L, (a, b) => a * b)))
            {
                throw context.Fail($"with spatial=0 its scale, bias, mean and variance must have shape {TensorShapes.Format(perElement)}");
            }
            Tensor factor = (scale / (variance.add(Scalars.Of(eps), Scalars.One)).sqrt()).reshape(perElement);
            Tensor offset = shift.reshape(perElement) - mean.reshape(perElement) * factor;
            Value scaled = ArithmeticOperators.WithConstant(context, x, factor, ElementwiseOperation.MultiplyConstant, "scale");
            context.Output(0, ArithmeticOperators.WithConstant(context, scaled, offset, ElementwiseOperation.AddConstant, "shift"));
            return;
        }
        if (!perChannel)
        {
            throw context.Fail($"its scale, bias, mean and variance must each hold {channels} values, one per channel");
        }
        BatchNorm norm = x.Rank switch
        {
            2 or 3 => nn.BatchNorm1d(channels, eps, affine: true, track_running_stats: true, dtype: context.FloatType),
            4 => nn.BatchNorm2d(channels, eps, affine: true, track_running_stats: true, dtype: context.FloatType),
            5 => nn.BatchNorm3d(channels, eps, affine: true, track_running_stats: true, dtype: context.FloatType),
            _ => throw context.Fail($"batch norms of inputs of rank {x.Rank} are not supported (2 to 5)"),
        };
        Helpers.Fill(context, norm.weight!, scale, "scale");
        Helpers.Fill(context, norm.bias!, shift, "bias");
        Helpers.Fill(context, norm.running_mean!, mean, "mean");
        Helpers.Fill(context, norm.running_var!, variance, "variance");
        norm.eval();
        context.Output(0, context.Module(norm, null, x));
    }

    public static void InstanceNormalization(NodeContext context)
    {
        context.Attributes("epsilon");
        Value x = context.Input(0);
        double eps = Epsilon(context);
        Tensor scale = Helpers.Weight(context, 1, "scale");
        Tensor shift = Helpers.Weight(context, 2, "bias");
        long channels = x.Rank >= 2 ? x.Shape[1] : 0;
        if (scale.numel() != channels || shift.numel() != channels)
        {
            throw context.Fail($"its scale and bias must each hold {channels} values, one per channel");
        }
        InstanceNorm norm = x.Rank switch
        {
            3 => nn.InstanceNorm1d(channels, eps, affine: true, track_running_stats: false, dtype: context.FloatType),
            4 => nn.InstanceNorm2d(channels, eps, affine: true, track_running_stats: false, dtype: context.FloatType),
            5 => nn.InstanceNorm3d(channels, eps, affine: true, track_running_stats: false, dtype: context.FloatType),
            _ => throw context.Fail($"instance norms of inputs of rank {x.Rank} are not supported (3 to 5)"),
        };
        Helpers.Fill(context, norm.weight!, scale, "scale");
        Helpers.Fill(context, norm.bias!, shift, "bias");
        norm.eval();
        context.Output(0, context.Module(norm, null, x));
    }

    public static void LayerNormalization(NodeContext context)
    {
        context.Attributes("axis", "epsilon", "stash_type");
        context.Unused(1, "the mean");
        context.Unused(2, "the inverse standard deviation");
        Value x = context.Input(0);
        long axis = Helpers.Axis(context, context.Int("axis", -1), x.Rank);
        double eps = Epsilon(context);
        long[] normalized = x.Shape.Skip((int)axis).ToArray();
        Tensor scale = Helpers.Weight(context, 1, "scale");
        Tensor? shift = context.Optional(2) is null ? null : Helpers.Weight(context, 2, "bias");
        Tensor Full(Tensor t, string what)
        {
            try
            {
                return TensorShapes.Expand(t, normalized).contiguous();
            }
            catch (ArgumentException)
            {
                throw context.Fail($"its {what} of shape {TensorShapes.Format(t.shape)} does not broadcast to the normalized shape {TensorShapes.Format(normalized)}");
            }
        }
        var norm = nn.LayerNorm(normalized, eps, elementwise_affine: true, bias: shift is not null, dtype: context.FloatType);
        Helpers.Fill(context, norm.weight!, Full(scale, "scale"), "scale");
        if (shift is not null)
        {
            Helpers.Fill(context, norm.bias!, Full(shift, "bias"), "bias");
        }
        context.Output(0, context.Module(norm, null, x));
    }

    // The node's epsilon (1e-5 when absent), refused unless finite and not negative.
    private static double Epsilon(NodeContext context)
    {
        double eps = context.Float("epsilon", 1e-5);
        if (!double.IsFinite(eps) || eps < 0)
        {
            throw context.Fail($"its epsilon {eps} is not a finite non-negative number");
        }
        return eps;
    }
}
