using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// The autograd function behind a rule: in the forward pass it hands on a copy of the module's output; in the
/// backward pass it asks the rule what flows to the module's input (the ordinary gradient while hooks are inactive).
/// </summary>
internal sealed class RuleGate : autograd.SingleTensorFunction<RuleGate>
{
    public override string Name => "RelevanceSharpRule";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var call = (RuleCall)vars[1];
        ctx.save_data("call", call);
        ctx.save_data("hook", vars[2]);
        // A copy, not a view, for rules that read the output: the model may change the result in place (a ReLU
        // working in place on a convolution's output).
        return call.Rule.ReadsOutput ? call.Output.detach().clone() : call.Output.detach();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var call = (RuleCall)ctx.get_data("call");
        var hook = (RuleHook)ctx.get_data("hook");
        // The handle handed back on this thread's previous call has been copied by libtorch by now.
        HandedBack.Release();
        if (call.Released)
        {
            gradOutput.Dispose();
            return new List<Tensor> { null!, null!, null! };
        }
        Tensor? result = GateStep.Run(gradOutput, () =>
        {
            Tensor relevance = call.Activity.IsActive
                ? call.Activity.Timed(call.Module, () => call.Rule.Backward(call, gradOutput))
                : call.NaturalGradient(gradOutput);
            if (!relevance.shape.SequenceEqual(call.Input.shape))
            {
                throw new InvalidOperationException(
                    $"Rule {call.Rule} returned relevance of shape [{string.Join(", ", relevance.shape)}] for a " +
                    $"{call.Module.Describe()} input of shape [{string.Join(", ", call.Input.shape)}].");
            }
            call.Activity.Observer?.Observe(call.Module, call.Rule, [call.Input], gradOutput, [relevance]);
            return [relevance];
        }, () => [zeros_like(call.Input)], () => hook.Complete(call))[0];
        return new List<Tensor> { result!, null!, null! };
    }
}
