using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// The ordinary gradient on every leaf module that takes tensors (and on every module with several inputs), as rule
/// steps an observer can see; modules in <c>skip</c> (those another registration gives a rule, and their descendants)
/// are left alone. Values do not change: each step hands on the module's own gradient.
/// </summary>
internal sealed class ObservedGradient : Composite
{
    private readonly IReadOnlySet<nn.Module>? skip;

    public ObservedGradient(IReadOnlySet<nn.Module>? skip)
        : base(null)
    {
        this.skip = skip;
    }

    public override Rule? MapModule(IDictionary<string, object> context, string name, nn.Module module)
    {
        if (skip is not null && skip.Contains(module))
        {
            return null;
        }
        bool multi = MultiInputModules.IsMultiInput(module);
        bool leaf = module is nn.Module<Tensor, Tensor> && !module.children().Any();
        return multi || leaf ? NaturalGradient.Instance : null;
    }

    /// <summary>The identity of rules: the module's ordinary gradient, for one input or several.</summary>
    internal sealed class NaturalGradient : Rule
    {
        public static NaturalGradient Instance { get; } = new();

        public override bool ReadsOutput => false;

        public override bool SupportsMultipleInputs => true;

        public override string ToString() => "gradient";

        public override Tensor Backward(RuleCall call, Tensor gradInput, Tensor gradOutput) => gradInput;

        public override IReadOnlyList<Tensor> Backward(MultiInputCall call, Tensor gradOutput) => call.NaturalGradients(gradOutput);
    }
}
