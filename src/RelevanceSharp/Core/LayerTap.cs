using RelevanceSharp.Canonizers;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// Records what named modules hand on to the rest of the model in a forward pass, so that the same backward pass that
/// reaches the input can also return what arrives at those modules' outputs: the relevance under a composite (what
/// flows backward between modules is relevance, zennit's convention), the gradient without one. Attach it, run the
/// forward pass, take <see cref="Outputs"/> and pass them to <c>autograd.grad</c> beside the input.
/// </summary>
/// <remarks>
/// <para>
/// The tap sits outside every other interceptor of a module (<see cref="HookStage.Tap"/>), so it records the tensor the
/// next module really receives: a rule's gate output, a canonizer's replacement. A module that runs more than once in
/// one pass (a reused ReLU) or not at all is refused when the outputs are asked for, and so is an output that something
/// after the module overwrote in place (an in-place ReLU after a batch norm): its gradient would belong to the
/// overwritten values. Each output is fingerprinted (its sum and sum of squares in double precision) when recorded and
/// again when asked for.
/// </para>
/// <para>
/// This is the general "what reaches module X" facility; the attributors' layer results
/// (<c>Attributor.Attribute(input, target, layers)</c>) and Grad-CAM are built on it.
/// </para>
/// </remarks>
public sealed class LayerTap : IDisposable
{
    private readonly List<Recorder> recorders = [];
    private readonly UndoStack undo = new();

    private LayerTap(IReadOnlyList<string> names) => Names = names;

    /// <summary>The tapped modules' names, in the order given.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>
    /// Taps the modules of <paramref name="model"/> with the given dotted names (as <see cref="ModuleTree.NamedModulesWithRoot"/>
    /// lists them: <c>features.denseblock3</c>). Disposing the tap removes it.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// A name is empty, given twice, names no module (the message suggests the nearest names) or a module of several
    /// inputs.
    /// </exception>
    public static LayerTap Attach(nn.Module model, IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(names);
        string[] wanted = names.ToArray();
        if (wanted.Length == 0)
        {
            throw new ArgumentException("No layer to tap was named.", nameof(names));
        }
        if (wanted.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new ArgumentException($"The layer '{twice.Key}' is named twice.", nameof(names));
        }
        var modules = model.NamedModulesWithRoot().Where(m => m.Name.Length > 0).ToList();
        var tap = new LayerTap(wanted);
        try
        {
            foreach (string name in wanted)
            {
                nn.Module module = modules.FirstOrDefault(m => m.Name == name).Module ?? throw UnknownLayer(model, name);
                if (module is not nn.Module<Tensor, Tensor> single)
                {
                    throw new ArgumentException(
                        $"The layer '{name}' ({module.Describe()}) does not map one tensor to one tensor; name a layer of one input and one output.",
                        nameof(names));
                }
                var recorder = new Recorder(name);
                tap.recorders.Add(recorder);
                tap.undo.Push(ModuleHooks.Add(single, HookStage.Tap, recorder));
            }
        }
        catch
        {
            tap.Dispose();
            throw;
        }
        return tap;
    }

    /// <summary>
    /// The error for a layer name the model does not have: one line naming it and the nearest names the model has
    /// (<see cref="ModuleTree.ClosestNames"/>).
    /// </summary>
    public static ArgumentException UnknownLayer(nn.Module model, string name)
    {
        ArgumentNullException.ThrowIfNull(model);
        IReadOnlyList<string> closest = ModuleTree.ClosestNames(model, name ?? "", 3);
        return new ArgumentException(
            $"The model has no layer '{name}'" + (closest.Count == 0 ? "." : $"; nearest: {string.Join(", ", closest)}."));
    }

    /// <summary>Forgets what earlier passes recorded; call it before each forward pass whose outputs you want.</summary>
    public void Reset()
    {
        foreach (Recorder recorder in recorders)
        {
            recorder.Reset();
        }
    }

    /// <summary>
    /// The output of each tapped module in the pass since the last <see cref="Reset"/>, in the order of <see cref="Names"/>:
    /// the tensor the rest of the model received, still part of the pass's graph. The tap owns these handles: they are
    /// valid until the next <see cref="Reset"/> or <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// A module did not run, ran more than once, or its output was overwritten in place after it ran.
    /// </exception>
    public IReadOnlyList<Tensor> Outputs() => recorders.Select(r => r.Output()).ToList();

    /// <summary>Removes the tap from every module.</summary>
    public void Dispose()
    {
        undo.Dispose();
        foreach (Recorder recorder in recorders)
        {
            recorder.Reset();
        }
    }

    private readonly record struct Fingerprint(double Sum, double SumOfSquares)
    {
        public static Fingerprint Of(Tensor tensor)
        {
            using var scope = NewDisposeScope();
            Tensor values = tensor.detach().to(ScalarType.Float64);
            return new Fingerprint(values.sum().item<double>(), values.pow(Scalars.Of(2.0)).sum().item<double>());
        }
    }

    private sealed class Recorder(string name) : IForwardInterceptor
    {
        private Tensor? output;
        private Fingerprint fingerprint;
        private int calls;

        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input) => input;

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor result)
        {
            calls++;
            // A handle of our own to the same tensor (same autograd identity): the caller may dispose its handle, as
            // TorchSharp's Sequential does with the results between its children.
            output?.Dispose();
            output = result.alias().DetachFromDisposeScope();
            fingerprint = Fingerprint.Of(result);
            return result;
        }

        public void Reset()
        {
            output?.Dispose();
            output = null;
            calls = 0;
        }

        public Tensor Output()
        {
            if (calls == 0 || output is null || output.IsInvalid)
            {
                throw new InvalidOperationException($"The layer '{name}' did not run in the forward pass, so nothing reached it.");
            }
            if (calls > 1)
            {
                throw new InvalidOperationException(
                    $"The layer '{name}' ran {calls} times in one forward pass (a module used twice); name a layer that runs once.");
            }
            if (Fingerprint.Of(output) != fingerprint)
            {
                throw new InvalidOperationException(
                    $"The output of layer '{name}' was overwritten in place after the layer ran (by an in-place operation such as " +
                    "ReLU(inplace=True)), so its gradient would belong to other values; name the layer after that operation.");
            }
            return output;
        }
    }
}
