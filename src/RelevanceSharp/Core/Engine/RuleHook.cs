using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// The interceptor that attaches a rule to every call of a module. The module computes on the tensor it was called
/// with (on a copy when it may work in place); the model continues with a copy of the result, produced by an
/// autograd function whose backward asks the rule what flows to the module's input. The module's own backward step
/// runs only if the rule asks for it.
/// </summary>
internal sealed class RuleHook : IForwardInterceptor
{
    private readonly Rule rule;
    private readonly HookActivity activity;
    private readonly Stack<RuleCall?> open = new();
    private readonly HashSet<RuleCall> pending = new();
    private readonly object sync = new();

    public RuleHook(Rule rule, HookActivity activity)
    {
        this.rule = rule;
        this.activity = activity;
    }

    public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input)
    {
        if (!is_grad_enabled() || !input.requires_grad || RuleSuppression.IsSuppressed(module) || rule.ChangesNothing(module))
        {
            open.Push(null);
            return input;
        }
        var call = new RuleCall(module, rule, activity) { Input = input };
        lock (sync)
        {
            pending.Add(call);
        }
        open.Push(call);
        bool mayModify = InPlace.MayModifyInput(module);
        if (mayModify && module.GetType() == typeof(TorchSharp.Modules.ReLU) && InPlace.EmptyBatch(input) is { } empty)
        {
            // An in-place ReLU would need a copy to destroy: it runs on an empty slice instead, and its result is
            // computed out of place from the recorded input below (one pass instead of a copy and a pass).
            call.OutOfPlaceReLU = true;
            return empty;
        }
        // A module that may overwrite its input works on a copy, so the recorded input stays intact.
        // (Also for rules that read nothing: working in place on the input itself would hang the module's own
        // backward step onto the input's history, under the rule's.)
        return mayModify ? input.clone() : input;
    }

    public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
    {
        RuleCall? call = open.Count > 0 ? open.Pop() : null;
        if (call is null)
        {
            return output;
        }
        if (call.OutOfPlaceReLU)
        {
            output = call.Input.relu();
        }
        if (!output.requires_grad)
        {
            Complete(call);
            return output;
        }
        call.Output = output;
        return RuleGate.apply(call.Input, call, this);
    }

    internal void Complete(RuleCall call)
    {
        lock (sync)
        {
            pending.Remove(call);
        }
        call.Release();
    }

    internal void ReleaseAll()
    {
        lock (sync)
        {
            foreach (RuleCall call in pending)
            {
                call.Release();
            }
            pending.Clear();
        }
        open.Clear();
    }
}
