namespace RelevanceSharp.Layers;

/// <summary>
/// A parameter-free module that is linear in its input, without offset: a rotary position embedding, a fixed
/// rescaling or permutation mixing values. Relevance passes such a module by input times gradient
/// (<c>R_in = x * (dy/dx)^T (R / y)</c>, LRP-0), which conserves it; the transformer composites give it that rule.
/// Without a rule, the gradient would hand the relevance on multiplied by the map's Jacobian instead.
/// </summary>
public interface ILinearOperation
{
}
