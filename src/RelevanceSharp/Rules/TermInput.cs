using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Rules;

/// <summary>What a rule term feeds the layer, as a function of the layer's input <c>x</c>.</summary>
public enum TermInput
{
    /// <summary><c>x</c> itself.</summary>
    Same,

    /// <summary><c>max(x, 0)</c>.</summary>
    PositivePart,

    /// <summary><c>min(x, 0)</c>.</summary>
    NegativePart,

    /// <summary>A tensor of ones shaped like <c>x</c>.</summary>
    Ones,

    /// <summary>Any other function of <c>x</c> (given by <see cref="RuleTerm.CustomInput"/>).</summary>
    Other,
}
