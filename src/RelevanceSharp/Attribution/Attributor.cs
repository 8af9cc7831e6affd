using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// The common shape of every attribution method: <c>Attribute(input, target)</c> returns the model output and an
/// attribution shaped like the input. With a composite, the composite is applied to the model for the duration
/// of each call, or for as long as a <see cref="Scope"/> is open; the model is restored afterwards, also when the
/// call fails. Each call runs in its own dispose scope, so only the returned tensors outlive it.
/// </summary>
public abstract class Attributor
{
    // The CPU guard must be in force before this type runs its first convolution.
    static Attributor() => CpuGuard.Ensure();

    private static long recomputed;

    // How many times a non-finite result is computed again before it is reported.
    private const int TransientRepeats = 2;

    private CompositeRegistration? scoped;

    /// <summary>
    /// How many attributions in this process gave a non-finite result once and a finite one when computed again (the
    /// repeat is returned); a command line reports it, so that a transient fault is never silent.
    /// </summary>
    public static long Recomputed => Interlocked.Read(ref recomputed);

    /// <summary>Creates an attributor.</summary>
    protected Attributor(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Composite = composite;
        DefaultTarget = target ?? AttributionTarget.Output;
    }

    /// <summary>The model.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>The composite applied while attributing, if any.</summary>
    public Composite? Composite { get; }

    /// <summary>The target used when a call gives none.</summary>
    public AttributionTarget DefaultTarget { get; }

    /// <summary>
    /// Whether a call whose model output or relevance holds NaN or infinite values raises
    /// <see cref="NonFiniteAttributionException"/> (the default) instead of returning them. The check costs one pass
    /// over each result; after a failure, one more gradient pass with checks finds the layer where it started.
    /// </summary>
    public bool RequireFinite { get; set; } = true;

    /// <summary>
    /// Whether the attribution keeps its graph, so that it can be differentiated again (zennit's <c>create_graph</c>):
    /// the returned output and relevance stay attached, to the input given to Attribute itself when it requires grad. With
    /// a composite, attribute and differentiate inside one <see cref="Scope"/>, with the hooks made inactive by
    /// <see cref="HooksInactive"/> for the second derivative (the rules' steps stay available until the scope closes).
    /// </summary>
    public bool CreateGraph { get; set; }

    /// <summary>
    /// Whether libtorch keeps the forward graph after the gradient (zennit's <c>retain_graph</c>); <c>null</c>, the
    /// default, follows <see cref="CreateGraph"/>. <c>false</c> together with <see cref="CreateGraph"/> is refused: the
    /// second derivative would need the graph that was freed, and libtorch would end the process.
    /// </summary>
    public bool? RetainGraph { get; set; }

    /// <summary>
    /// The target that explains class <c>classes[i]</c> of sample <c>i</c> with this method: the one-hot vector of each
    /// class for the gradient methods (<see cref="AttributionTarget.Classes"/>); methods that score the output instead
    /// of differentiating it (<see cref="Occlusion"/>) override it.
    /// </summary>
    public virtual AttributionTarget ClassTarget(IReadOnlyList<long> classes) => AttributionTarget.Classes(classes);

    /// <summary>
    /// Set for one call by <see cref="ConservationReport"/>: runs once the composite is applied (with its registration,
    /// or <c>null</c> without a composite) and before the forward pass; disposing its result undoes what it did.
    /// </summary>
    internal Func<CompositeRegistration?, IDisposable>? Instrument { get; set; }

    /// <summary>Whether the method takes gradients at all (<see cref="Occlusion"/> does not).</summary>
    protected virtual bool TakesGradients => true;

    /// <summary>
    /// Makes the composite's hooks hand on ordinary gradients until the result is disposed: how the gradient of an
    /// attribution made with <see cref="CreateGraph"/> is taken. Needs an open <see cref="Scope"/> when there is a
    /// composite; without a composite it changes nothing.
    /// </summary>
    public IDisposable HooksInactive()
    {
        if (Composite is null)
        {
            return new UndoStack();
        }
        return scoped?.Inactive()
            ?? throw new InvalidOperationException("The hooks belong to a registration: open attributor.Scope() around the attribution and its differentiation.");
    }

    /// <summary>The composite and its canonizers in words, for messages: "EpsilonPlusFlat with canonizer resnet".</summary>
    public string Configuration => Composite is null
        ? "no composite"
        : Composite.Canonizers.Count == 0
            ? Composite.GetType().Name
            : $"{Composite.GetType().Name} with canonizer{(Composite.Canonizers.Count > 1 ? "s" : "")} {string.Join(", ", Composite.Canonizers.Select(c => c.Name))}";

    /// <summary>
    /// Applies the composite until the result is disposed, so that several calls share one registration.
    /// </summary>
    public IDisposable Scope()
    {
        if (scoped is not null)
        {
            throw new InvalidOperationException("A scope of this attributor is already open.");
        }
        if (Composite is null)
        {
            return new ScopeHandle(this, null);
        }
        scoped = Composite.Register(Model);
        return new ScopeHandle(this, scoped);
    }

    /// <summary>Attributes the model's output (or <paramref name="target"/>) to <paramref name="input"/>.</summary>
    public AttributionResult Attribute(Tensor input, AttributionTarget? target = null) => Attribute(input, target, []);

    /// <summary>
    /// Attributes the model's output (or <paramref name="target"/>) to <paramref name="input"/> and, in the same backward
    /// pass, gives the method's result at the named layers (<see cref="AttributionResult.Layers"/>): for the gradient with
    /// a composite (LRP) the relevance reaching each layer's output, without one the gradient there. Names are dotted
    /// module names (<c>features.denseblock3</c>); an unknown one is refused with the nearest names the model has.
    /// </summary>
    /// <exception cref="ArgumentException">A layer name is unknown or names a module of several inputs.</exception>
    /// <exception cref="NotSupportedException">The method gives no result at layers (occlusion, Integrated Gradients).</exception>
    /// <exception cref="InvalidOperationException">A layer did not run once in the forward pass, or its output was overwritten in place.</exception>
    public AttributionResult Attribute(Tensor input, AttributionTarget? target, IEnumerable<string> layers)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(layers);
        string[] names = layers.ToArray();
        InputChecks.EnsureFinite(input);
        CheckGraphOptions();
        AttributionTarget chosen = target ?? DefaultTarget;
        using var scope = NewDisposeScope();
        using LayerTap? tap = names.Length == 0 ? null : LayerTap.Attach(Model, names);
        CompositeRegistration? registration = scoped ?? Composite?.Register(Model);
        Layers = tap is null ? null : new LayerRequest(tap);
        IDisposable? instrumentation = null;
        try
        {
            instrumentation = Instrument?.Invoke(registration);
            // A graph to differentiate later starts at the caller's own input, when it asks for gradients.
            Tensor start = CreateGraph && input.requires_grad ? input : input.detach();
            var (output, relevance) = Compute(start, chosen);
            if (RequireFinite && !NonFiniteDiagnosis.AllFinite(output, relevance))
            {
                // The same computation again, up to TransientRepeats times: on some virtual machines libtorch's CPU kernels, and under heavy
                // garbage collection the ThreshReLU rewrite (README, known issues), give a non-finite result once that
                // a repeat does not. A result that stays non-finite is reported with where it starts.
                for (int repeat = 1; !NonFiniteDiagnosis.AllFinite(output, relevance); repeat++)
                {
                    if (repeat > TransientRepeats)
                    {
                        throw NonFinite(input, chosen, output, relevance, registration);
                    }
                    (output, relevance) = Compute(start, chosen);
                }
                Interlocked.Increment(ref recomputed);
            }
            var atLayers = new Dictionary<string, Tensor>();
            if (Layers is { } request)
            {
                IReadOnlyList<Tensor> results = request.Result ?? throw new NotSupportedException(
                    $"{GetType().Name} gives no result at layers; the gradient (with or without a composite), input x gradient and " +
                    "the SmoothGrad variants do.");
                for (int i = 0; i < names.Length; i++)
                {
                    atLayers[names[i]] = (CreateGraph ? results[i] : results[i].detach()).MoveToOuterDisposeScope();
                }
            }
            return CreateGraph
                ? new AttributionResult(output.MoveToOuterDisposeScope(), relevance.MoveToOuterDisposeScope()) { Layers = atLayers }
                : new AttributionResult(output.detach().MoveToOuterDisposeScope(), relevance.detach().MoveToOuterDisposeScope()) { Layers = atLayers };
        }
        catch (Exception ex) when (InputChecks.IsModelRejection(ex))
        {
            throw InputChecks.Explain(Model, input, ex);
        }
        finally
        {
            Layers = null;
            instrumentation?.Dispose();
            // A graph kept for a second derivative still needs the rules' recorded calls; the scope releases them.
            if (!CreateGraph)
            {
                registration?.ReleasePendingCalls();
            }
            if (!ReferenceEquals(registration, scoped))
            {
                registration?.Dispose();
            }
        }
    }

    // The combinations libtorch cannot carry out end the process instead of throwing: refuse them here.
    private void CheckGraphOptions()
    {
        if (!CreateGraph)
        {
            return;
        }
        if (RetainGraph == false)
        {
            throw new InvalidOperationException(
                "CreateGraph needs the graph kept for the second derivative: leave RetainGraph unset, or set it to true.");
        }
        if (!TakesGradients)
        {
            throw new NotSupportedException($"{GetType().Name} takes no gradient, so there is no graph to keep (CreateGraph).");
        }
        if (Composite is not null && scoped is null)
        {
            throw new InvalidOperationException(
                "With a composite, CreateGraph needs an open attributor.Scope() around the attribution and its differentiation: " +
                "the rules' steps are part of the graph and end with the registration.");
        }
    }

    private NonFiniteAttributionException NonFinite(Tensor input, AttributionTarget target, Tensor output, Tensor relevance,
        CompositeRegistration? registration)
    {
        string what = NonFiniteDiagnosis.AllFinite(output)
            ? $"non-finite relevance ({NonFiniteDiagnosis.Count(relevance)})"
            : $"a non-finite model output ({NonFiniteDiagnosis.Count(output)})";
        var (layer, where) = NonFiniteDiagnosis.Locate(Model, registration, () => Gradient(input.detach(), target));
        return new NonFiniteAttributionException(GetType().Name, Configuration, what, layer, where);
    }

    /// <summary>Computes output and attribution for a detached input.</summary>
    protected abstract (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target);

    /// <summary>
    /// The layers the current call asked for (<see cref="Attribute(Tensor, AttributionTarget?, IEnumerable{string})"/>), or
    /// <c>null</c>; a method that gives results at layers sets <see cref="LayerRequest.Result"/>.
    /// </summary>
    protected LayerRequest? Layers { get; private set; }

    /// <summary>
    /// The (possibly modified) gradient of the target at <paramref name="input"/>, and the model output. When the call
    /// asked for layers, the same backward pass also gives what reaches them (<see cref="LayerRequest.LastGradients"/>).
    /// </summary>
    protected (Tensor Output, Tensor Gradient) Gradient(Tensor input, AttributionTarget target)
    {
        var (output, gradient, layers) = Gradient(input, target, Layers?.Tap);
        if (Layers is { } request)
        {
            request.LastActivations = layers.Select(l => l.Activation).ToList();
            request.LastGradients = layers.Select(l => l.Gradient).ToList();
        }
        return (output, gradient);
    }

    /// <summary>
    /// The (possibly modified) gradient of the target at <paramref name="input"/>, the model output, and for each layer of
    /// <paramref name="tap"/> its output (detached) and what reached it, all from one forward and one backward pass.
    /// </summary>
    protected (Tensor Output, Tensor Gradient, IReadOnlyList<(Tensor Activation, Tensor Gradient)> Layers) Gradient(Tensor input,
        AttributionTarget target, LayerTap? tap)
    {
        using var grad = enable_grad();
        Tensor x = CreateGraph && input.requires_grad ? input : input.detach().requires_grad_(true);
        tap?.Reset();
        Tensor output = Model.call(x);
        IReadOnlyList<Tensor> tapped = tap?.Outputs() ?? [];
        Tensor seed = target.Resolve(output.detach());
        if (!seed.shape.SequenceEqual(output.shape))
        {
            throw new ArgumentException(
                $"The attribution target gave a tensor of shape {TensorShapes.Format(seed.shape)} for an output of shape {TensorShapes.Format(output.shape)}.");
        }
        BackwardFailures.ThrowIfAny();
        // TorchSharp's autograd.grad lets libtorch's errors escape into native code, which aborts the process: rule
        // out the two a model can cause (an output without a graph, an input the graph does not use) beforehand.
        if (!output.requires_grad)
        {
            throw new InvalidOperationException(
                "The model output does not require grad, so it has no gradient with respect to the input: the forward " +
                "detaches, runs under no_grad or goes through integers.");
        }
        IList<Tensor> gradients = autograd.grad(new[] { output }, [x, .. tapped], new[] { seed },
            retain_graph: RetainGraph ?? CreateGraph, create_graph: CreateGraph, allow_unused: true);
        BackwardFailures.ThrowIfAny();
        Tensor gradient = gradients[0];
        if (gradient is null || gradient.IsInvalid)
        {
            throw new InvalidOperationException(
                "The model output does not depend on the input through operations autograd can differentiate, so there " +
                "is no gradient to attribute.");
        }
        // A layer the target does not depend on receives nothing: zeros.
        var layers = tapped.Select((t, i) => (t.detach(), gradients[i + 1] is { IsInvalid: false } g ? g : zeros_like(t))).ToList();
        return (output, gradient, layers);
    }

    private sealed class ScopeHandle : IDisposable
    {
        private Attributor? owner;
        private readonly CompositeRegistration? registration;

        public ScopeHandle(Attributor owner, CompositeRegistration? registration)
        {
            this.owner = owner;
            this.registration = registration;
        }

        public void Dispose()
        {
            if (owner is null)
            {
                return;
            }
            owner.scoped = null;
            owner = null;
            registration?.Dispose();
        }
    }
}
