using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>The result of one attribution: the model output and the relevance of each input element.</summary>
public sealed record AttributionResult(Tensor Output, Tensor Relevance) : IDisposable
{
    /// <summary>Releases both tensors.</summary>
    public void Dispose()
    {
        Output.Dispose();
        Relevance.Dispose();
    }
}

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

    private CompositeRegistration? scoped;

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
    public AttributionResult Attribute(Tensor input, AttributionTarget? target = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        InputChecks.EnsureFinite(input);
        CheckGraphOptions();
        AttributionTarget chosen = target ?? DefaultTarget;
        using var scope = NewDisposeScope();
        CompositeRegistration? registration = scoped ?? Composite?.Register(Model);
        try
        {
            // A graph to differentiate later starts at the caller's own input, when it asks for gradients.
            Tensor start = CreateGraph && input.requires_grad ? input : input.detach();
            var (output, relevance) = Compute(start, chosen);
            if (RequireFinite && !NonFiniteDiagnosis.AllFinite(output, relevance))
            {
                throw NonFinite(input, chosen, output, relevance, registration);
            }
            return CreateGraph
                ? new AttributionResult(output.MoveToOuterDisposeScope(), relevance.MoveToOuterDisposeScope())
                : new AttributionResult(output.detach().MoveToOuterDisposeScope(), relevance.detach().MoveToOuterDisposeScope());
        }
        catch (Exception ex) when (InputChecks.IsModelRejection(ex))
        {
            throw InputChecks.Explain(Model, input, ex);
        }
        finally
        {
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

    /// <summary>The (possibly modified) gradient of the target at <paramref name="input"/>, and the model output.</summary>
    protected (Tensor Output, Tensor Gradient) Gradient(Tensor input, AttributionTarget target)
    {
        using var grad = enable_grad();
        Tensor x = CreateGraph && input.requires_grad ? input : input.detach().requires_grad_(true);
        Tensor output = Model.call(x);
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
        Tensor gradient = autograd.grad(new[] { output }, new[] { x }, new[] { seed },
            retain_graph: RetainGraph ?? CreateGraph, create_graph: CreateGraph, allow_unused: true)[0];
        BackwardFailures.ThrowIfAny();
        if (gradient is null || gradient.IsInvalid)
        {
            throw new InvalidOperationException(
                "The model output does not depend on the input through operations autograd can differentiate, so there " +
                "is no gradient to attribute.");
        }
        return (output, gradient);
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

/// <summary>The gradient, or with a composite the modified gradient, which is LRP.</summary>
public sealed class Gradient : Attributor
{
    /// <summary>Creates the attributor.</summary>
    public Gradient(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null)
        : base(model, composite, target)
    {
    }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target) => Gradient(input, target);
}

/// <summary>
/// SmoothGrad: the gradient averaged over noisy copies of the input. The noise has standard deviation
/// <c>noiseLevel * (max - min)</c> of each sample; the last iteration uses the input itself, so one iteration is the
/// plain gradient. A seed makes the noise reproducible.
/// </summary>
public sealed class SmoothGrad : Attributor
{
    /// <summary>Creates the attributor.</summary>
    public SmoothGrad(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null,
        double noiseLevel = 0.1, int iterations = 20, long? seed = null)
        : base(model, composite, target)
    {
        if (iterations < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "SmoothGrad needs at least one iteration.");
        }
        if (double.IsNaN(noiseLevel) || noiseLevel < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(noiseLevel), noiseLevel, "The noise level must be non-negative.");
        }
        NoiseLevel = noiseLevel;
        Iterations = iterations;
        Seed = seed;
    }

    /// <summary>Noise standard deviation relative to each sample's value range.</summary>
    public double NoiseLevel { get; }

    /// <summary>Number of gradients averaged.</summary>
    public int Iterations { get; }

    /// <summary>Seed of the noise, or <c>null</c> for a random one.</summary>
    public long? Seed { get; }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        long[] dims = Enumerable.Range(1, (int)input.dim() - 1).Select(d => (long)d).ToArray();
        Tensor std = dims.Length == 0
            ? zeros_like(input)
            : (input.amax(dims, keepdim: true) - input.amin(dims, keepdim: true)) * NoiseLevel;
        using Generator generator = Seed.HasValue ? new Generator((ulong)Seed.Value, input.device) : new Generator(device: input.device);
        Tensor result = zeros_like(input);
        Tensor output = input;
        for (int n = 0; n < Iterations; n++)
        {
            Tensor noisy = n == Iterations - 1
                ? input
                : input + randn(input.shape, dtype: input.dtype, device: input.device, generator: generator) * std;
            (output, Tensor gradient) = Gradient(noisy, target);
            result += gradient / Iterations;
        }
        return (output, result);
    }
}

/// <summary>
/// Integrated Gradients: gradients at <c>n</c> points on the straight path from a baseline to the input
/// (<c>alpha = 1/n, 2/n, ..., 1</c>), averaged and multiplied by <c>input - baseline</c>.
/// </summary>
public sealed class IntegratedGradients : Attributor
{
    private readonly Func<Tensor, Tensor> baseline;

    /// <summary>Creates the attributor; the baseline is a function of the input (zeros by default).</summary>
    public IntegratedGradients(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null,
        Func<Tensor, Tensor>? baseline = null, int iterations = 20)
        : base(model, composite, target)
    {
        if (iterations < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "Integrated Gradients needs at least one step.");
        }
        this.baseline = baseline ?? (x => zeros_like(x));
        Iterations = iterations;
    }

    /// <summary>Number of steps.</summary>
    public int Iterations { get; }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        Tensor reference = baseline(input);
        if (!reference.shape.SequenceEqual(input.shape))
        {
            throw new ArgumentException($"The baseline has shape {TensorShapes.Format(reference.shape)}, the input {TensorShapes.Format(input.shape)}.");
        }
        // The steps are the float32 values of linspace(1/n, 1, n), as in the reference implementation.
        float[] alphas = linspace(1.0 / Iterations, 1.0, Iterations, dtype: ScalarType.Float32).data<float>().ToArray();
        Tensor result = zeros_like(input);
        Tensor output = input;
        Tensor difference = input - reference;
        foreach (float alpha in alphas)
        {
            Tensor step = reference + difference * (double)alpha;
            (output, Tensor gradient) = Gradient(step, target);
            result += gradient / Iterations;
        }
        return (output, result * difference);
    }
}
