using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// The frame of a rule gate's backward step, shared by the gates for one input and for several: the rule's work in a
/// dispose scope of its own, an exception recorded instead of thrown into the native autograd engine, the call
/// released unless the pass records a graph, and the results held until libtorch has copied them.
/// </summary>
internal static class GateStep
{
    /// <param name="gradOutput">TorchSharp's handle of the incoming gradient; dropped here.</param>
    /// <param name="compute">The relevance per input (<c>null</c> for an input that takes none).</param>
    /// <param name="fallback">What to hand back when <paramref name="compute"/> fails (zeros).</param>
    /// <param name="complete">Releases the call.</param>
    public static Tensor?[] Run(Tensor gradOutput, Func<Tensor?[]> compute, Func<Tensor?[]> fallback, Action complete)
    {
        // A backward pass that records a graph (create_graph) may be differentiated again, which runs the step once
        // more: the call is then kept until its registration ends.
        bool recordsGraph = is_grad_enabled();
        Tensor?[] results;
        // Everything the rule makes lives in this scope, and the incoming gradient's handle is dropped below: left to
        // the caller's scope, every layer's gradient and relevance would stay in memory until the attribution ends.
        using (var scope = NewDisposeScope())
        {
            try
            {
                // Fresh handles: a rule may return one of the call's own tensors, which are released below.
                results = compute().Select(r => r?.alias()).ToArray();
            }
            catch (Exception ex)
            {
                // An exception must not cross the native autograd engine; it is reported after the backward pass.
                BackwardFailures.Record(ex);
                results = fallback();
            }
            finally
            {
                if (!recordsGraph)
                {
                    complete();
                }
            }
            foreach (Tensor? result in results)
            {
                result?.DetachFromDisposeScope();
            }
        }
        gradOutput.Dispose();
        HandedBack.Hold(results.OfType<Tensor>().ToArray());
        return results;
    }
}
