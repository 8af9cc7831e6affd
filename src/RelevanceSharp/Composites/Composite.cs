using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Composites;

/// <summary>
/// Assigns rules to the modules of a model and applies canonizers first. A composite is a reusable description:
/// <see cref="Register"/> applies it to a model and returns a handle whose <see cref="IDisposable.Dispose"/>
/// removes every hook and undoes every canonizer, in reverse order, leaving the model as it was.
/// </summary>
public abstract class Composite
{
    // The CPU guard must be in force before this type runs its first convolution.
    static Composite() => CpuGuard.Ensure();

    /// <summary>Creates a composite with the canonizers to apply before the rules.</summary>
    protected Composite(IEnumerable<ICanonizer>? canonizers)
    {
        Canonizers = canonizers?.ToArray() ?? Array.Empty<ICanonizer>();
    }

    /// <summary>The canonizers applied, in order, before rules are assigned.</summary>
    public IReadOnlyList<ICanonizer> Canonizers { get; }

    /// <summary>
    /// Where registrations of this composite count the engine's work (<see cref="EngineCounters"/>), for tests and
    /// profiling; <c>null</c>, the default, counts nothing.
    /// </summary>
    public EngineCounters? Counters { get; set; }

    /// <summary>
    /// Picks the rule for one module, or <c>null</c> for none. Called for the model itself (name <c>""</c>) and then
    /// for every descendant in registration order; <paramref name="context"/> is shared by the calls of one
    /// registration (e.g. to remember that the first layer has been seen).
    /// </summary>
    public abstract Rule? MapModule(IDictionary<string, object> context, string name, nn.Module module);

    /// <summary>
    /// Applies the canonizers, then attaches the rules. If anything fails, whatever was already applied is undone
    /// before the exception propagates.
    /// </summary>
    public CompositeRegistration Register(nn.Module<Tensor, Tensor> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var registration = new CompositeRegistration(model);
        registration.Activity.Counters = Counters;
        try
        {
            foreach (ICanonizer canonizer in Canonizers)
            {
                registration.AddUndo(canonizer.Apply(model));
            }
            var context = new Dictionary<string, object>();
            // A module registered under several names is one module: it gets one rule, under its first name (as
            // PyTorch's named_modules lists it). Registering it twice would apply the rule twice to every call.
            var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
            foreach (var (name, module) in model.NamedModulesWithRoot())
            {
                if (!seen.Add(module))
                {
                    continue;
                }
                Rule? rule = MapModule(context, name, module);
                if (rule is null)
                {
                    continue;
                }
                IDisposable attached;
                try
                {
                    attached = rule.Register(module, registration.Activity);
                }
                catch (NotSupportedException ex)
                {
                    throw new NotSupportedException($"Rule {rule} was assigned to '{name}': {ex.Message}", ex);
                }
                lock (registration.Activity.Names)
                {
                    registration.Activity.Names[module] = name;
                }
                registration.AddRule(name, rule, attached);
            }
        }
        catch
        {
            registration.Dispose();
            throw;
        }
        return registration;
    }
}

/// <summary>A composite applied to a model; disposing it restores the model.</summary>
public sealed class CompositeRegistration : IDisposable
{
    private readonly UndoStack undo = new();
    private readonly List<(string Name, Rule Rule)> rules = new();
    private readonly List<IPendingCalls> pendingCalls = new();
    private bool disposed;

    internal CompositeRegistration(nn.Module<Tensor, Tensor> model)
    {
        Model = model;
    }

    /// <summary>The model the composite is applied to.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>The switch shared by all hooks of this registration.</summary>
    public HookActivity Activity { get; } = new();

    /// <summary>Which rule each module got, by module name.</summary>
    public IReadOnlyList<(string Name, Rule Rule)> Rules => rules;

    /// <summary>
    /// Makes the hooks pass the ordinary gradient until the result is disposed, so that the gradient of a
    /// modified gradient can be taken.
    /// </summary>
    public IDisposable Inactive() => Activity.Suspend();

    internal void AddUndo(IDisposable action) => undo.Push(action);

    /// <summary>
    /// Releases what the hooks keep of forward calls whose backward pass has not run (modules whose output did not
    /// reach the explained target) or was recorded for a higher-order gradient. Attributors call this after each
    /// attribution; call it yourself after manual forward and backward passes in a long-lived registration.
    /// </summary>
    public void ReleasePendingCalls()
    {
        foreach (IPendingCalls pending in pendingCalls)
        {
            pending.ReleasePending();
        }
        HandedBack.Release();
    }

    internal void AddRule(string name, Rule rule, IDisposable registration)
    {
        if (registration is IPendingCalls pending)
        {
            pendingCalls.Add(pending);
        }
        rules.Add((name, rule));
        undo.Push(registration);
    }

    /// <summary>Removes all hooks and undoes all canonizers, newest first.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        undo.Dispose();
    }
}
