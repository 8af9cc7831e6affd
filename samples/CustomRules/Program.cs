// The README's section "Writing your own rules and composites" shows this program piece by piece; a test builds and
// runs it and checks what it prints.
using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Layers;
using RelevanceSharp.Rules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

torch.manual_seed(1);
var model = new TinyResNet();
model.eval();
Tensor input = torch.rand(2, 3, 8, 8);

// A canonizer that routes every block's addition through its Add module while it is applied.
var routeSums = new AttributeCanonizer("route_sums", (name, module) =>
    module is ResidualBlock ? new Dictionary<string, object?> { ["SumAsModule"] = true } : null);

// A composite from a function: the rule for each module, or null for none.
var byFunction = new FunctionComposite((name, module) => module switch
{
    Conv2d => new PositiveEpsilon(1e-6),
    Linear => new Epsilon(1e-6),
    Add or AdaptiveAvgPool2d => new Norm(),
    _ => null,
}, canonizers: [routeSums]);

// The same composite under a name, with an argument, and the canonizer under a name: both can now be used in
// CompositeSpec texts, as `relevance explain --composite` and `relevance evaluate --config` read them.
var epsilon = new ArgumentSpec("epsilon", "number", "1e-6", "Epsilon of the convolutions.");
CompositeRegistry.Register(new CompositeEntry("positive_epsilon", "PositiveEpsilon on convolutions, Epsilon on dense layers, Norm on sums and pools.",
    [epsilon],
    (args, canonizers) => new FunctionComposite((name, module) => module switch
    {
        Conv2d => new PositiveEpsilon(args.Number(epsilon)),
        Linear => new Epsilon(1e-6),
        Add or AdaptiveAvgPool2d => new Norm(),
        _ => null,
    }, canonizers)));
CanonizerRegistry.Register(new CanonizerEntry("route_sums", "Routes ResidualBlock additions through their Add module.", () => routeSums));
Composite byName = CompositeSpec.Parse("positive_epsilon(epsilon=1e-6)+route_sums").Create();

AttributionTarget target = AttributionTarget.ClassScore(0);
using AttributionResult fromFunction = new Gradient(model, byFunction, target).Attribute(input);
using AttributionResult fromName = new Gradient(model, byName, target).Attribute(input);
Console.WriteLine($"function and registered composite agree: {(fromFunction.Relevance == fromName.Relevance).all().item<bool>()}");

// Relevance is conserved when the sums carry Norm: each sample's relevance adds up to its class-0 score.
double score = fromFunction.Output[0, 0].item<float>();
double total = fromFunction.Relevance[0].sum().item<float>();
Console.WriteLine($"with route_sums: score {score:F4}, relevance {total:F4}");

// Without the canonizer the additions stay plain `+`: the gradient hands both summands the whole relevance.
var unrouted = new FunctionComposite((name, module) => module switch
{
    Conv2d => new PositiveEpsilon(1e-6),
    Linear => new Epsilon(1e-6),
    AdaptiveAvgPool2d => new Norm(),
    _ => null,
});
using AttributionResult counted = new Gradient(model, unrouted, target).Attribute(input);
Console.WriteLine($"without route_sums: score {score:F4}, relevance {counted.Relevance[0].sum().item<float>():F4}");

/// <summary>
/// LRP-epsilon on the positive weights only: R_i = x_i * sum_j w+_ji * R_j / (z+_j + epsilon), z+ = W+ x. One term
/// fed the layer's own input with the weights clamped at zero and the bias dropped.
/// </summary>
public sealed class PositiveEpsilon(double epsilon) : BasicRule(
    [new RuleTerm(TermInput.Same, ParameterModifier.Clamp(min: 0.0, zeroParameters: ["bias"]))],
    (relevance, outputs) => [relevance / new Stabilizer(epsilon).Apply(outputs[0])],
    $"PositiveEpsilon({epsilon})");

/// <summary>conv -> relu -> conv, added to the block's input, then relu: written with a plain `+`.</summary>
public sealed class ResidualBlock : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1 = nn.Conv2d(4, 4, 3, padding: 1, bias: false);
    private readonly ReLU relu1 = nn.ReLU();
    private readonly Conv2d conv2 = nn.Conv2d(4, 4, 3, padding: 1, bias: false);
    private readonly Add sum = new();
    private readonly ReLU relu2 = nn.ReLU();

    public ResidualBlock() : base(nameof(ResidualBlock)) => RegisterComponents();

    /// <summary>Whether the addition runs through the <see cref="Add"/> module, where a composite can give it a rule.</summary>
    public bool SumAsModule { get; set; }

    public override Tensor forward(Tensor input)
    {
        Tensor branch = conv2.call(relu1.call(conv1.call(input)));
        return relu2.call(SumAsModule ? sum.call(branch, input) : branch.add(input, Scalars.One));
    }
}

/// <summary>conv -> relu -> two residual blocks -> average pool -> linear, for (N, 3, 8, 8) images, 5 classes.</summary>
public sealed class TinyResNet : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d stem = nn.Conv2d(3, 4, 3, padding: 1, bias: false);
    private readonly ReLU relu = nn.ReLU();
    private readonly ResidualBlock block1 = new();
    private readonly ResidualBlock block2 = new();
    private readonly AdaptiveAvgPool2d pool = nn.AdaptiveAvgPool2d(1);
    private readonly Flatten flatten = nn.Flatten();
    private readonly Linear head = nn.Linear(4, 5, hasBias: false);

    public TinyResNet() : base(nameof(TinyResNet)) => RegisterComponents();

    public override Tensor forward(Tensor input) =>
        head.call(flatten.call(pool.call(block2.call(block1.call(relu.call(stem.call(input)))))));
}
