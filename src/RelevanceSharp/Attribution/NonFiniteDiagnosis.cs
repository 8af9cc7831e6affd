using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// Finds where an attribution stopped being finite by repeating one gradient pass with checks: every leaf module's
/// output in the forward pass, and every rule step's incoming and outgoing relevance in the backward pass. Runs only
/// after an attribution has failed, so ordinary runs pay nothing for it.
/// </summary>
internal static class NonFiniteDiagnosis
{
    /// <summary>Whether every value of every tensor is finite.</summary>
    public static bool AllFinite(params Tensor[] tensors)
    {
        using var scope = NewDisposeScope();
        return tensors.All(t => !t.is_floating_point() || isfinite(t).all().item<bool>());
    }

    /// <summary>"3 NaN and 1 infinite of 150528 values".</summary>
    public static string Count(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        long nan = isnan(tensor).sum().item<long>();
        long inf = isinf(tensor).sum().item<long>();
        return $"{nan} NaN and {inf} infinite of {tensor.numel()} values";
    }

    /// <summary>
    /// Repeats <paramref name="pass"/> with checks on <paramref name="model"/> (already under
    /// <paramref name="registration"/>, the attributor's composite, if any) and says where values first stopped being
    /// finite. Never throws.
    /// </summary>
    public static (string? Layer, string Where) Locate(nn.Module<Tensor, Tensor> model, CompositeRegistration? registration, Action pass)
    {
        var names = new Dictionary<nn.Module, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, module) in model.NamedModulesWithRoot())
        {
            names.TryAdd(module, name.Length == 0 ? "(the model)" : name);
        }
        var observer = new Observer(names);
        using var undo = new UndoStack();
        try
        {
            foreach (var (_, module) in model.NamedLeaves())
            {
                if (module is nn.Module<Tensor, Tensor> leaf)
                {
                    undo.Push(ModuleHooks.Add(leaf, HookStage.Outer, observer));
                }
            }
            // Without a composite, every leaf gets a rule that passes the ordinary gradient, so that the backward pass
            // has steps to observe.
            CompositeRegistration? observed = registration ?? new ObservedGradient(null).Register(model);
            if (!ReferenceEquals(observed, registration))
            {
                undo.Push(observed);
            }
            observed.Activity.Observer = observer;
            undo.Push(() => observed.Activity.Observer = null);
            using var scope = NewDisposeScope();
            pass();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The diagnosis is a courtesy: a failure here leaves the finding so far.
        }
        return observer.Finding();
    }

    private sealed class Observer(Dictionary<nn.Module, string> names) : IForwardInterceptor, IBackwardObserver
    {
        private string? forward;
        private string? backward;
        private string? firstReceiving;

        public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input) => input;

        public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output)
        {
            if (forward is null && AllFinite(input) && !AllFinite(output))
            {
                forward = Name(module);
            }
            return output;
        }

        public void Observe(nn.Module module, Rule rule, IReadOnlyList<Tensor> inputs, Tensor gradOutput, IReadOnlyList<Tensor> gradInputs)
        {
            if (backward is not null)
            {
                return;
            }
            if (!AllFinite(gradOutput))
            {
                firstReceiving ??= Name(module);
            }
            else if (!AllFinite(gradInputs.ToArray()))
            {
                backward = Name(module);
            }
        }

        public (string? Layer, string Where) Finding()
        {
            if (forward is not null)
            {
                return (forward, $"the output of layer {forward} in the forward pass was the first non-finite value");
            }
            if (backward is not null)
            {
                return (backward, $"layer {backward} turned finite relevance into non-finite relevance in the backward pass");
            }
            if (firstReceiving is not null)
            {
                return (firstReceiving, $"the relevance reaching layer {firstReceiving} in the backward pass was already non-finite (it appeared in an operation between layers)");
            }
            return (null, "a repeated pass with checks gave finite values everywhere, so the fault is not reproducible: on a virtual " +
                "machine this is typical of libtorch's CPU kernels (run 'relevance doctor')");
        }

        private string Name(nn.Module module) =>
            names.TryGetValue(module, out string? name) ? $"'{name}' ({module.Describe()})" : module.Describe();
    }
}
