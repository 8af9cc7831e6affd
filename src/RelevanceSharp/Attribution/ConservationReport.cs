using System.Globalization;
using System.Text;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>Relevance a module handed to one of its inputs that is not computed from the model's input: a parameter
/// (a position embedding added by an <c>Add</c> module, a class token put in front) or a constant. It leaves the flow
/// there.</summary>
/// <param name="Name">The parameter's name in the model (<c>encoder.pos_embedding</c>), or <c>constant input K</c>.</param>
/// <param name="Total">The relevance it received, summed over the batch.</param>
public sealed record ParameterShare(string Name, double Total);

/// <summary>
/// One module call of the backward pass: the relevance entering it (at its output), leaving it (to its inputs that
/// are computed from the model's input) and absorbed (the difference), each summed per sample.
/// </summary>
/// <param name="Name">The module's name in the model, with <c> #K</c> for its K-th call when it is called several times.</param>
/// <param name="Module">What the module is, e.g. <c>Linear(32 -> 64)</c>.</param>
/// <param name="Rule">The rule of the call, or <c>gradient</c> for a module without one (its ordinary gradient).</param>
/// <param name="Entering">Per sample, the relevance at the module's output (<c>NaN</c> where the tensor has no batch dimension).</param>
/// <param name="Leaving">Per sample, the relevance handed to the module's computed inputs.</param>
/// <param name="Parameters">The relevance handed to inputs that are parameters or constants, where it is absorbed.</param>
public sealed record LayerBalance(string Name, string Module, string Rule, IReadOnlyList<double> Entering, IReadOnlyList<double> Leaving,
    IReadOnlyList<ParameterShare> Parameters)
{
    /// <summary>Per sample, the relevance the call absorbed (or created, when negative): <c>Entering - Leaving</c>.</summary>
    public IReadOnlyList<double> Absorbed { get; } = Entering.Zip(Leaving, (e, l) => e - l).ToArray();
}

/// <summary>
/// Where the relevance of an attribution goes: for every module call of the backward pass, the relevance entering
/// and leaving it and what it absorbed, so that a gap between the relevance put at the output and the relevance
/// reaching the input can be located (a bias, a class token, a position embedding, a softmax under AttnLRP) instead of
/// guessed. Every module the composite gives no rule (dropout, a concatenation) is observed too, with its ordinary
/// gradient, which does not change the attribution. What no module accounts for was lost or created between modules
/// by functional operations (<see cref="Unaccounted"/>).
/// </summary>
public sealed class ConservationReport
{
    private ConservationReport(IReadOnlyList<double> target, IReadOnlyList<double> input, IReadOnlyList<LayerBalance> layers)
    {
        Target = target;
        Input = input;
        Layers = layers;
        AbsorbedByLayers = Enumerable.Range(0, target.Count)
            .Select(i => layers.Where(l => !double.IsNaN(l.Absorbed[i])).Sum(l => l.Absorbed[i]))
            .ToArray();
        Unaccounted = Enumerable.Range(0, target.Count).Select(i => target[i] - input[i] - AbsorbedByLayers[i]).ToArray();
    }

    /// <summary>Per sample, the relevance put at the model's output (the sum of the attribution target's seed).</summary>
    public IReadOnlyList<double> Target { get; }

    /// <summary>Per sample, the relevance that reached the model's input (the sum of the attribution).</summary>
    public IReadOnlyList<double> Input { get; }

    /// <summary>Every module call, in the order of the backward pass (from the output towards the input).</summary>
    public IReadOnlyList<LayerBalance> Layers { get; }

    /// <summary>Per sample, the sum of what the module calls absorbed.</summary>
    public IReadOnlyList<double> AbsorbedByLayers { get; }

    /// <summary>
    /// Per sample, <c>Target - Input - AbsorbedByLayers</c>: relevance lost (or created) between modules, by functional
    /// operations that no module carries out (an addition written with <c>+</c>, a parameter concatenated in place).
    /// </summary>
    public IReadOnlyList<double> Unaccounted { get; }

    /// <summary>The number of samples.</summary>
    public int Samples => Target.Count;

    /// <summary>
    /// Attributes with <paramref name="attributor"/> (a <see cref="Gradient"/> attributor, with a composite for LRP) and
    /// records the relevance balance of every module call. The attribution is the one the attributor alone returns.
    /// </summary>
    /// <exception cref="NotSupportedException">The attributor runs more than one backward pass, or none.</exception>
    public static (AttributionResult Result, ConservationReport Report) Attribute(Attributor attributor, Tensor input, AttributionTarget? target = null)
    {
        ArgumentNullException.ThrowIfNull(attributor);
        ArgumentNullException.ThrowIfNull(input);
        if (attributor is not Gradient)
        {
            throw new NotSupportedException(
                $"The conservation report follows one backward pass; {attributor.GetType().Name} runs several or none. Use a Gradient attributor (with a composite for LRP).");
        }
        AttributionTarget chosen = target ?? attributor.DefaultTarget;
        long batch = input.dim() > 0 ? input.shape[0] : 1;
        var recorder = new Recorder(attributor.Model, batch);
        attributor.Instrument = registration => recorder.Install(registration);
        AttributionResult result;
        try
        {
            result = attributor.Attribute(input, chosen);
        }
        finally
        {
            attributor.Instrument = null;
        }
        using var scope = NewDisposeScope();
        double[] seed = Recorder.PerSample(chosen.Resolve(result.Output), batch);
        double[] reached = Recorder.PerSample(result.Relevance, batch);
        return (result, new ConservationReport(seed, reached, recorder.Layers));
    }

    /// <summary>
    /// The calls that absorbed most (largest magnitude first), for one sample or summed over the batch.
    /// </summary>
    public IEnumerable<LayerBalance> Absorbers(int count, int? sample = null) =>
        Layers.OrderByDescending(l => Math.Abs(Value(l.Absorbed, sample))).Take(count);

    /// <summary>
    /// The report as a table, for one sample or summed over the batch (<c>null</c>): a header with the relevance at the
    /// output and at the input and where the rest went, then one line per module call (or only the
    /// <paramref name="top"/> largest absorbers).
    /// </summary>
    public string Format(int? sample = null, int? top = null)
    {
        if (sample is { } s && (s < 0 || s >= Samples))
        {
            throw new ArgumentOutOfRangeException(nameof(sample), sample, $"The report has {Samples} sample(s).");
        }
        CultureInfo c = CultureInfo.InvariantCulture;
        double target = Value(Target, sample), input = Value(Input, sample);
        var text = new StringBuilder();
        text.AppendLine(string.Create(c, $"conservation ({(sample is { } k ? $"sample {k}" : "all samples")}): relevance at the output {target:G6}, " +
            $"at the input {input:G6} ({Percent(input, target)}); absorbed by layers {Value(AbsorbedByLayers, sample):G6}, between layers {Value(Unaccounted, sample):G6}"));
        IEnumerable<LayerBalance> rows = top is { } n ? Absorbers(n, sample) : Layers;
        int width = Math.Max(5, Layers.Count == 0 ? 0 : Layers.Max(l => l.Name.Length));
        text.AppendLine(string.Create(c, $"{"layer".PadRight(width)}  {"rule",-28}  {"entering",12}  {"leaving",12}  {"absorbed",12}"));
        foreach (LayerBalance layer in rows)
        {
            string rule = layer.Rule.Length > 28 ? layer.Rule[..27] + "~" : layer.Rule;
            string parameters = layer.Parameters.Count == 0 ? "" : "  into " + string.Join(", ", layer.Parameters.Select(p => string.Create(c, $"{p.Name} {p.Total:G6}")));
            text.AppendLine(string.Create(c,
                $"{layer.Name.PadRight(width)}  {rule,-28}  {Value(layer.Entering, sample),12:G6}  {Value(layer.Leaving, sample),12:G6}  {Value(layer.Absorbed, sample),12:G6}{parameters}"));
        }
        return text.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => Format(Samples == 1 ? 0 : null);

    private static double Value(IReadOnlyList<double> values, int? sample) => sample is { } s ? values[s] : values.Sum();

    private static string Percent(double part, double whole) =>
        whole == 0 ? "-" : (100 * part / whole).ToString("F1", CultureInfo.InvariantCulture) + " %";

    /// <summary>Observes the rule steps of one attribution and keeps their balances.</summary>
    private sealed class Recorder(nn.Module<Tensor, Tensor> model, long batch) : IBackwardObserver
    {
        // NamedModulesWithRoot lists a module once, under its first name.
        private readonly Dictionary<nn.Module, string> names = model.NamedModulesWithRoot()
            .ToDictionary(e => e.Module, e => e.Name.Length == 0 ? "(the model)" : e.Name, (IEqualityComparer<nn.Module>)ReferenceEqualityComparer.Instance);

        private readonly List<(string Name, Tensor Parameter)> parameters = model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();
        private readonly Dictionary<nn.Module, int> calls = new(ReferenceEqualityComparer.Instance);

        public List<LayerBalance> Layers { get; } = new();

        /// <summary>Gives every module without a rule an observed gradient step and starts observing; disposing undoes both.</summary>
        public IDisposable Install(CompositeRegistration? registration)
        {
            var undo = new UndoStack();
            try
            {
                HookActivity activity;
                if (registration is null)
                {
                    CompositeRegistration observed = new ObservedGradient(null).Register(model);
                    undo.Push(observed);
                    activity = observed.Activity;
                }
                else
                {
                    // Modules with a rule, and everything inside them, are seen through their rule's step.
                    activity = registration.Activity;
                    var observer = new ObservedGradient(WithDescendants(registration.Activity.Names.Keys));
                    var context = new Dictionary<string, object>();
                    foreach (var (name, module) in model.NamedModulesWithRoot())
                    {
                        if (observer.MapModule(context, name, module) is { } rule)
                        {
                            undo.Push(rule.Register(module, activity));
                        }
                    }
                }
                activity.Observer = this;
                undo.Push(() => activity.Observer = null);
                return undo;
            }
            catch
            {
                undo.Dispose();
                throw;
            }
        }

        public void Observe(nn.Module module, Rule rule, IReadOnlyList<Tensor> inputs, Tensor gradOutput, IReadOnlyList<Tensor> gradInputs)
        {
            using var scope = NewDisposeScope();
            int call = calls[module] = calls.GetValueOrDefault(module) + 1;
            string name = names.TryGetValue(module, out string? n) ? n : module.Describe();
            double[] entering = PerSample(gradOutput, batch);
            var leaving = new double[batch];
            var shares = new List<ParameterShare>();
            for (int i = 0; i < gradInputs.Count; i++)
            {
                string? absorber = i < inputs.Count ? Absorber(inputs[i], i) : null;
                if (absorber is not null)
                {
                    shares.Add(new ParameterShare(absorber, gradInputs[i].detach().to(ScalarType.Float64).sum().item<double>()));
                    continue;
                }
                double[] values = PerSample(gradInputs[i], batch);
                for (int s = 0; s < batch; s++)
                {
                    leaving[s] += values[s];
                }
            }
            Layers.Add(new LayerBalance(call == 1 ? name : $"{name} #{call}", module.Describe(), rule.ToString(), entering, leaving, shares));
        }

        /// <summary>Per sample sums of a batch-first tensor (<c>NaN</c> when its first dimension is not the batch).</summary>
        public static double[] PerSample(Tensor tensor, long batch)
        {
            using var scope = NewDisposeScope();
            if (tensor.dim() == 0 || tensor.shape[0] != batch)
            {
                return Enumerable.Repeat(double.NaN, (int)batch).ToArray();
            }
            return tensor.detach().to(ScalarType.Float64).reshape(batch, -1).sum(1).cpu().data<double>().ToArray();
        }

        // A parameter of the model, or a constant (an input that does not require grad), takes relevance out of the flow.
        private string? Absorber(Tensor input, int position)
        {
            if (!input.requires_grad)
            {
                return $"constant input {position}";
            }
            foreach (var (name, parameter) in parameters)
            {
                if (parameter.shape.SequenceEqual(input.shape) && TensorAddress.SameView(parameter, input))
                {
                    return name;
                }
            }
            return null;
        }

        private static HashSet<nn.Module> WithDescendants(IEnumerable<nn.Module> roots)
        {
            var result = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
            foreach (nn.Module root in roots)
            {
                foreach (var (_, module) in root.NamedModulesWithRoot())
                {
                    result.Add(module);
                }
            }
            return result;
        }
    }
}
