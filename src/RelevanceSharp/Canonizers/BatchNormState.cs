using RelevanceSharp.Core;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// A batch norm in eval mode as a per-channel affine map <c>y = scale * x + shift</c>, and the switch that turns it
/// into the identity while its map lives in a neighbouring layer.
/// </summary>
public static class BatchNormState
{
    /// <summary>
    /// The affine map of a batch norm in eval mode: <c>scale = weight / sqrt(running_var + eps)</c>,
    /// <c>shift = bias - running_mean * scale</c> (weight 1 and bias 0 without affine parameters).
    /// </summary>
    public static (Tensor Scale, Tensor Shift) AffineMap(BatchNorm batchNorm, string name)
    {
        EnsureMergeable(batchNorm, name);
        using var noGrad = no_grad();
        Tensor mean = batchNorm.running_mean!;
        Tensor variance = batchNorm.running_var!;
        Tensor denominator = (variance.add(Scalars.Of(batchNorm.eps), Scalars.One)).sqrt();
        Tensor scale = batchNorm.weight is not null ? batchNorm.weight.detach() / denominator : denominator.reciprocal();
        Tensor shift = -mean * scale;
        if (batchNorm.bias is not null)
        {
            shift = batchNorm.bias.detach().add(shift, Scalars.One);
        }
        return (scale.detach(), shift.detach());
    }

    /// <summary>Whether a batch norm currently computes the identity because a canonizer merged it.</summary>
    public static bool IsMerged(BatchNorm batchNorm) => IdentityModules.Contains(batchNorm);

    /// <summary>Throws unless the batch norm can be merged (eval mode, running statistics).</summary>
    public static void EnsureMergeable(BatchNorm batchNorm, string name)
    {
        if (batchNorm.training)
        {
            throw new InvalidOperationException(
                $"Batch norm '{name}' is in training mode; merging it needs its running statistics. Call model.eval() first.");
        }
        if (batchNorm.running_mean is null || batchNorm.running_var is null)
        {
            throw new InvalidOperationException(
                $"Batch norm '{name}' keeps no running statistics (track_running_stats is off), so it cannot be merged.");
        }
    }

    /// <summary>
    /// Makes the batch norm compute the identity (mean 0, variance 1, weight 1, bias 0, eps 0), changing values in
    /// place; the returned handle restores every value and eps bit-exactly, keeping the module's tensor objects.
    /// </summary>
    public static IDisposable MakeIdentity(BatchNorm batchNorm)
    {
        var saved = new List<(Tensor Target, Tensor Copy)>();
        double eps = batchNorm.eps;
        using (no_grad())
        {
            foreach (Tensor? target in new[] { batchNorm.running_mean, batchNorm.running_var, batchNorm.weight, batchNorm.bias })
            {
                if (target is not null)
                {
                    saved.Add((target, target.detach().clone().DetachFromDisposeScope()));
                }
            }
            batchNorm.running_mean!.zero_();
            batchNorm.running_var!.fill_(Scalars.Of(1.0));
            batchNorm.weight?.fill_(Scalars.Of(1.0));
            batchNorm.bias?.zero_();
        }
        batchNorm.eps = 0.0;
        IDisposable mark = IdentityModules.Mark(batchNorm);
        var undo = new UndoStack();
        // The identity's Jacobian is the identity: the backward pass skips the batch norm's own backward step.
        undo.Push(ModuleHooks.Add(batchNorm, HookStage.Inner, new IdentityBackward()));
        undo.Push(() =>
        {
            using (no_grad())
            {
                foreach (var (target, copy) in saved)
                {
                    target.copy_(copy);
                    copy.Dispose();
                }
            }
            batchNorm.eps = eps;
            mark.Dispose();
        });
        return undo;
    }

    /// <summary>
    /// Computes the merged batch norm's identity as a copy of its input (whose backward step passes the gradient
    /// through), instead of a per-channel affine map of ones and zeros and its backward step. The batch norm itself
    /// runs on an empty batch (its checks of the input's shape still apply). A copy, not the input itself: the model
    /// may change the result in place (an in-place ReLU), which must not reach the input.
    /// </summary>
    private sealed class IdentityBackward : IForwardInterceptor
    {
        [ThreadStatic]
        private static Stack<Tensor?>? originals;

        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input)
        {
            originals ??= new Stack<Tensor?>();
            Tensor? empty = module.training || input.dim() < 2 ? null : InPlace.EmptyBatch(input);
            originals.Push(empty is null ? null : input);
            return empty ?? input;
        }

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            Tensor? original = originals is { Count: > 0 } ? originals.Pop() : null;
            if (original is null)
            {
                return output;
            }
            // clone() is its own identity step for autograd: the gradient passes back unchanged, without a copy.
            return original.clone();
        }
    }
}
