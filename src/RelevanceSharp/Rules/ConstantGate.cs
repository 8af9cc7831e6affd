using RelevanceSharp.Core;
using RelevanceSharp.Layers;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>
/// CP-LRP's treatment of a gated product (Ali et al., "XAI for Transformers: Better Explanations through Conservative
/// Propagation", ICML 2022): the gate (the attention weights of <c>softmax(q k^T) v</c>, the activated gate of a gated
/// MLP) is held constant, so it receives no relevance and the other factor, in which the product is then linear,
/// receives all of it: <c>R_v = v * (dy/dv)^T (R / y)</c>. Conservative. The gate is the module's
/// <see cref="IProduct.Gate"/>, or the position given here.
/// </summary>
public sealed class ConstantGate : ProductRule
{
    private readonly int? gate;

    /// <summary>Creates the rule.</summary>
    /// <param name="gate">The position of the gate among the module's inputs; <c>null</c> takes the module's own
    /// <see cref="IProduct.Gate"/>.</param>
    /// <param name="stabilizer">The stabilizer of the output; <see cref="Stabilizer.Exact"/> when <c>null</c>.</param>
    public ConstantGate(int? gate = null, Stabilizer? stabilizer = null) : base(stabilizer)
    {
        if (gate < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(gate), gate, "The gate is the position of an input.");
        }
        this.gate = gate;
    }

    /// <inheritdoc />
    protected override double[] Shares(nn.Module module, int inputs)
    {
        int chosen = gate ?? (module as IProduct)?.Gate ?? throw new InvalidOperationException(
            $"Rule {this} needs to know which input of {module.Describe()} is the gate: the module names none " +
            "(IProduct.Gate), and the rule was created without a position.");
        if (chosen >= inputs || inputs < 2)
        {
            throw new InvalidOperationException(
                $"Rule {this}: the gate is input {chosen}, but {module.Describe()} takes {inputs} input(s); a gated product needs the gate and at least one other factor.");
        }
        return Enumerable.Range(0, inputs).Select(i => i == chosen ? 0.0 : 1.0 / (inputs - 1)).ToArray();
    }

    /// <inheritdoc />
    public override string ToString() => gate is null ? "ConstantGate" : $"ConstantGate(gate={gate})";
}
