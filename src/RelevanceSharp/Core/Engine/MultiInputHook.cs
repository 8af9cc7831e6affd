using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// Attaches a rule to every call of a module with several tensor inputs. After the module ran, the model continues
/// with a copy of its output made by <see cref="MultiRuleGate"/>, whose backward asks the rule how the relevance at
/// the output splits among the inputs.
/// </summary>
internal sealed class MultiInputHook : IPendingCalls
{
    private readonly Rule rule;
    private readonly HookActivity activity;
    private readonly HashSet<MultiInputCall> pending = new();
    private readonly object sync = new();

    public MultiInputHook(Rule rule, HookActivity activity)
    {
        this.rule = rule;
        this.activity = activity;
    }

    /// <summary>
    /// Hands the module a view of each input that requires grad: a graph node of its own, so that the gradient with
    /// respect to one input holds only what flows through it, also where another input was computed from it (the
    /// two summands h and f(h) of a residual block). While the hooks are active, the inputs the rule holds constant
    /// (<see cref="Rule.ConstantInputs"/>) are handed on detached instead.
    /// </summary>
    public Tensor[]? PreForward(nn.Module module, IReadOnlyList<Tensor> inputs)
    {
        if (!Applies(module, inputs))
        {
            return null;
        }
        IReadOnlyList<bool>? constant = activity.IsActive ? rule.ConstantInputs(module, inputs.Count) : null;
        return inputs.Select((x, i) => !x.requires_grad ? x : constant is not null && i < constant.Count && constant[i] ? x.detach() : x.view_as(x)).ToArray();
    }

    private static bool Applies(nn.Module module, IReadOnlyList<Tensor> inputs) =>
        is_grad_enabled() && inputs.Any(x => x.requires_grad) && !RuleSuppression.IsSuppressed(module);

    public Tensor PostForward(nn.Module module, IReadOnlyList<Tensor> inputs, Tensor output)
    {
        if (!output.requires_grad || !Applies(module, inputs))
        {
            return output;
        }
        var call = new MultiInputCall(module, rule, activity, inputs) { Output = output };
        lock (sync)
        {
            pending.Add(call);
        }
        var vars = new object[inputs.Count + 2];
        for (int i = 0; i < inputs.Count; i++)
        {
            vars[i] = inputs[i];
        }
        vars[inputs.Count] = call;
        vars[inputs.Count + 1] = this;
        return MultiRuleGate.apply(vars);
    }

    internal void Complete(MultiInputCall call)
    {
        lock (sync)
        {
            pending.Remove(call);
        }
        call.Release();
    }

    public void ReleasePending()
    {
        lock (sync)
        {
            foreach (MultiInputCall call in pending)
            {
                call.Release();
            }
            pending.Clear();
        }
    }
}
