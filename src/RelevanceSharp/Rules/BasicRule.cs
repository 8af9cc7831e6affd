using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// The parameterized LRP rule every modified-gradient rule is made of (zennit's <c>BasicHook</c>). For each term
/// <c>k</c> the layer's input is transformed by <c>InputModifiers[k]</c>, its parameters by
/// <c>ParameterModifiers[k]</c>, the layer is recomputed and its output transformed by
/// <c>OutputModifiers[k]</c>; the <see cref="GradientMapper"/> turns the incoming relevance and all term outputs
/// into one output gradient per term, the gradients of the terms with respect to their inputs are taken, and the
/// <see cref="Reducer"/> combines inputs and gradients into the relevance of the layer's input.
/// <para>
/// Rules built from <see cref="RuleTerm"/>s (all of the library's) compute the same numbers faster: a term that
/// feeds the layer its own input with its own weights reuses the forward pass's output and graph, a term whose input
/// is zero everywhere (the negative part after a ReLU) costs nothing, terms sharing an input run as one layer call
/// with their weights stacked, and terms with coefficient zero take no gradient. Higher-order gradients and rules
/// given by arbitrary modifiers and reducers take the general path, which recomputes every term.
/// </para>
/// </summary>
public class BasicRule : Rule
{
    /// <summary>Creates a rule; the three modifier lists must have the same length.</summary>
    public BasicRule(
        IReadOnlyList<Func<Tensor, Tensor>> inputModifiers,
        IReadOnlyList<ParameterModifier> parameterModifiers,
        IReadOnlyList<Func<Tensor, Tensor>> outputModifiers,
        Func<Tensor, IReadOnlyList<Tensor>, IReadOnlyList<Tensor>> gradientMapper,
        Func<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, Tensor> reducer,
        string? name = null)
    {
        if (inputModifiers.Count == 0 || inputModifiers.Count != parameterModifiers.Count || inputModifiers.Count != outputModifiers.Count)
        {
            throw new ArgumentException(
                $"A rule needs the same non-zero number of input, parameter and output modifiers; got " +
                $"{inputModifiers.Count}, {parameterModifiers.Count} and {outputModifiers.Count}.");
        }
        InputModifiers = inputModifiers;
        ParameterModifiers = parameterModifiers;
        OutputModifiers = outputModifiers;
        GradientMapper = gradientMapper;
        Reducer = reducer;
        DisplayName = name ?? GetType().Name;
    }

    /// <summary>
    /// Creates a rule from terms: relevance <c>sum_k Coefficient_k * input_k * gradient_k</c>, with the gradients of
    /// the term outputs weighted by <paramref name="gradientMapper"/>.
    /// </summary>
    public BasicRule(IReadOnlyList<RuleTerm> terms, Func<Tensor, IReadOnlyList<Tensor>, IReadOnlyList<Tensor>> gradientMapper, string? name = null)
        : this(
            terms.Select(t => (Func<Tensor, Tensor>)t.InputFor).ToArray(),
            terms.Select(t => t.Parameters).ToArray(),
            terms.Select(_ => (Func<Tensor, Tensor>)Same).ToArray(),
            gradientMapper,
            (inputs, gradients) => WeightedSum(terms, inputs, gradients),
            name)
    {
        Terms = terms;
    }

    /// <summary>One input transformation per term.</summary>
    public IReadOnlyList<Func<Tensor, Tensor>> InputModifiers { get; }

    /// <summary>One parameter transformation per term.</summary>
    public IReadOnlyList<ParameterModifier> ParameterModifiers { get; }

    /// <summary>One output transformation per term.</summary>
    public IReadOnlyList<Func<Tensor, Tensor>> OutputModifiers { get; }

    /// <summary>(incoming relevance, term outputs) to one output gradient per term.</summary>
    public Func<Tensor, IReadOnlyList<Tensor>, IReadOnlyList<Tensor>> GradientMapper { get; }

    /// <summary>(term inputs, term gradients) to the relevance of the layer's input.</summary>
    public Func<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, Tensor> Reducer { get; }

    /// <summary>The terms, for rules built from them; <c>null</c> for rules given by arbitrary modifiers.</summary>
    public IReadOnlyList<RuleTerm>? Terms { get; }

    /// <summary>
    /// Only terms fed the layer's own input can take their output from the forward pass; rules without such terms
    /// recompute everything from the input.
    /// </summary>
    public override bool ReadsOutput => Terms is null || Terms.Any(term => term.Input == TermInput.Same);

    /// <summary>
    /// A faster computation of this rule's relevance for one call, or <c>null</c> to let the engine compute the terms
    /// (the default). The engine asks first, for rules built from terms and outside higher-order passes; the result
    /// must equal the terms' up to rounding and have the input's shape. Called in the backward pass, inside a dispose
    /// scope that keeps only the returned tensor. ZPlus and Gamma use it on dense layers and convolutions; a rule of
    /// your own overrides it (<c>protected override</c>) with the public helpers <see cref="SignSplit"/>,
    /// <see cref="KnownSign"/>, <see cref="ChannelSigns"/> and <see cref="Stabilizer.ConstantShift"/>, and checks it
    /// against the terms with <c>GeneralPathComposite</c>, which turns every shortcut off.
    /// </summary>
    /// <param name="call">The recorded call.</param>
    /// <param name="gradOutput">The relevance arriving at the layer's output, as a gradient.</param>
    /// <param name="layer">The layer, its input and output and its effective parameters.</param>
    protected virtual Tensor? Shortcut(RuleCall call, Tensor gradOutput, LayerCall layer) => null;

    /// <summary>The engine's way to ask <see cref="Shortcut"/>, which subclasses override but only the engine calls.</summary>
    internal Tensor? TryShortcut(RuleCall call, Tensor gradOutput, LayerCall layer) => Shortcut(call, gradOutput, layer);

    /// <summary>The name shown by <see cref="ToString"/>.</summary>
    protected string DisplayName { get; }

    /// <inheritdoc />
    public override string ToString() => DisplayName;

    /// <inheritdoc />
    public override Tensor Backward(RuleCall call, Tensor gradOutput)
    {
        // Inside a backward pass autograd enables grad mode exactly when it records the backward for a higher
        // order (create_graph).
        bool createGraph = is_grad_enabled();
        if (!createGraph && Terms is not null)
        {
            return TermRelevance.Compute(this, Terms, call, gradOutput);
        }
        nn.Module<Tensor, Tensor> module = call.Module;
        Tensor relevance = Recompute(module, new[] { call.Input }, (inputs, parameters) => LayerCompute.Forward(module, inputs[0], parameters),
            gradOutput, createGraph)[0];
        return relevance.shape.SequenceEqual(call.Input.shape) ? relevance : call.NaturalGradient(gradOutput);
    }

    /// <summary>Every rule made of modifiers, gradient mapper and reducer defines a split among several inputs.</summary>
    public override bool SupportsMultipleInputs => true;

    /// <summary>
    /// The general path for a module with several inputs: every input gets the term's input modifier, the module is
    /// recomputed with the term's parameters, and the reducer combines, for each input, the modified inputs and their
    /// gradients. With <see cref="Norm"/> on a sum of branches, each branch receives the share of the relevance that
    /// its value contributes to the sum.
    /// </summary>
    public override IReadOnlyList<Tensor> Backward(MultiInputCall call, Tensor gradOutput)
    {
        bool createGraph = is_grad_enabled();
        nn.Module module = call.Module;
        return Recompute(module, call.Inputs, (inputs, parameters) => LayerCompute.Forward(module, inputs, parameters), gradOutput, createGraph);
    }

    /// <summary>
    /// The general path: recompute every term from the inputs and differentiate the recomputation. Returns one
    /// relevance tensor per input.
    /// </summary>
    private Tensor[] Recompute(nn.Module module, IReadOnlyList<Tensor> originals,
        Func<IReadOnlyList<Tensor>, IReadOnlyDictionary<string, Tensor?>, Tensor> forward, Tensor gradOutput, bool createGraph)
    {
        using var grad = enable_grad();
        // First-order attributions need no graph back into the forward pass; higher orders keep it.
        Tensor[] sources = originals.Select(x => createGraph ? x : x.detach()).ToArray();
        IReadOnlyDictionary<string, Tensor?> effective = LayerParameters.Effective(module, sources[0].shape);

        int terms = InputModifiers.Count;
        int count = sources.Length;
        var inputs = new Tensor[terms][];
        var outputs = new List<Tensor>(terms);
        for (int k = 0; k < terms; k++)
        {
            inputs[k] = new Tensor[count];
            for (int j = 0; j < count; j++)
            {
                // Each term's input becomes a graph node of its own, so that the gradient with respect to it holds
                // only what flows through it: not through another term's input, nor through another input of the
                // module that was computed from it (a residual sum of h and f(h) under a higher-order pass). TorchSharp's
                // alias() shares the tensor's graph node and cannot serve.
                Tensor modified = InputModifiers[k](sources[j]);
                inputs[k][j] = modified.requires_grad ? modified.view_as(modified) : modified.detach().requires_grad_(true);
            }
            IReadOnlyDictionary<string, Tensor?> parameters = ParameterModifiers[k].Apply(module, effective);
            outputs.Add(OutputModifiers[k](forward(inputs[k], parameters)));
        }
        if (outputs.FirstOrDefault(o => !o.requires_grad) is not null)
        {
            // libtorch would raise inside autograd.grad, which TorchSharp does not catch (the process aborts).
            throw new InvalidOperationException(
                $"Rule {this} recomputed {module.Describe()} and got an output without a graph to its input; " +
                "the layer's functional forward (or a modifier of this rule) must be differentiable in the input.");
        }
        IReadOnlyList<Tensor> gradOutputs = GradientMapper(gradOutput, outputs);
        // A higher-order gradient differentiates these gradients again, through the recomputation: keep its graph
        // (PyTorch's default retain_graph = create_graph; TorchSharp's default is false).
        IList<Tensor> gradients = autograd.grad(outputs, inputs.SelectMany(x => x).ToList(), gradOutputs.ToList(),
            retain_graph: createGraph, create_graph: createGraph, allow_unused: true);
        var relevance = new Tensor[count];
        for (int j = 0; j < count; j++)
        {
            var termInputs = new Tensor[terms];
            var filled = new Tensor[terms];
            for (int k = 0; k < terms; k++)
            {
                Tensor gradient = gradients[k * count + j];
                termInputs[k] = inputs[k][j];
                filled[k] = gradient is null || gradient.IsInvalid ? zeros_like(inputs[k][j]) : gradient;
            }
            Tensor reduced = Reducer(termInputs, filled);
            // The reducer ran under enable_grad on inputs that require grad; a first-order result must carry no graph.
            relevance[j] = createGraph ? reduced : reduced.detach();
        }
        return relevance;
    }

    /// <summary><c>sum_k Coefficient_k * inputs[k] * gradients[k]</c>, left to right, skipping zero coefficients.</summary>
    public static Tensor WeightedSum(IReadOnlyList<RuleTerm> terms, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> gradients)
    {
        Tensor? total = null;
        for (int k = 0; k < terms.Count; k++)
        {
            double c = terms[k].Coefficient;
            if (c == 0.0)
            {
                continue;
            }
            Tensor product = inputs[k] * gradients[k];
            Tensor term = c == 1.0 ? product : product.mul(Scalars.Of(c));
            total = total is null ? term : total.add(term, Scalars.One);
        }
        return total ?? zeros_like(inputs[0]);
    }

    /// <summary>The identity modifier.</summary>
    public static Tensor Same(Tensor tensor) => tensor;
}
