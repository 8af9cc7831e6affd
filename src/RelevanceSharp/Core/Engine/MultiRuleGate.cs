using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// The autograd function behind a rule on a module with several inputs: a copy of the output forward, the rule's
/// split of the relevance among the inputs backward (the ordinary gradients while hooks are inactive).
/// </summary>
internal sealed class MultiRuleGate : autograd.SingleTensorFunction<MultiRuleGate>
{
    public override string Name => "RelevanceSharpMultiInputRule";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var call = (MultiInputCall)vars[^2];
        ctx.save_data("call", call);
        ctx.save_data("hook", vars[^1]);
        ctx.save_data("arguments", vars.Length);
        return call.Output.detach().clone();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var call = (MultiInputCall)ctx.get_data("call");
        var hook = (MultiInputHook)ctx.get_data("hook");
        HandedBack.Release();
        if (call.Released)
        {
            gradOutput.Dispose();
            return new List<Tensor>(new Tensor[(int)ctx.get_data("arguments")]);
        }
        bool[] differentiable = call.Inputs.Select(x => x.requires_grad).ToArray();
        Tensor?[] results = GateStep.Run(gradOutput, () =>
        {
            IReadOnlyList<Tensor> relevance = call.Activity.IsActive
                ? call.Activity.Timed(call.Module, () => call.Rule.Backward(call, gradOutput))
                : call.NaturalGradients(gradOutput);
            Check(call, relevance);
            call.Activity.Observer?.Observe(call.Module, call.Rule, call.Inputs, gradOutput, relevance);
            return relevance.Select((r, i) => differentiable[i] ? r : null).ToArray();
        }, () => call.Inputs.Select((x, i) => differentiable[i] ? zeros_like(x) : null).ToArray(), () => hook.Complete(call));
        var list = new List<Tensor>(results!) { null!, null! };
        return list;
    }

    private static void Check(MultiInputCall call, IReadOnlyList<Tensor> relevance)
    {
        if (relevance.Count != call.Inputs.Count)
        {
            throw new InvalidOperationException(
                $"Rule {call.Rule} returned {relevance.Count} relevance tensors for the {call.Inputs.Count} inputs of {call.Module.Describe()}.");
        }
        for (int i = 0; i < relevance.Count; i++)
        {
            if (!relevance[i].shape.SequenceEqual(call.Inputs[i].shape))
            {
                throw new InvalidOperationException(
                    $"Rule {call.Rule} returned relevance of shape [{string.Join(", ", relevance[i].shape)}] for input {i} " +
                    $"of {call.Module.Describe()}, of shape [{string.Join(", ", call.Inputs[i].shape)}].");
            }
        }
    }
}
