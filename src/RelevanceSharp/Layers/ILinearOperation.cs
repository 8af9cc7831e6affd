namespace RelevanceSharp.Layers;

/// <summary>
/// A parameter-free module that is linear in its input, without offset: a rotary position embedding, a fixed
/// rescaling or permutation mixing values, a mean or sum over some axes. Relevance passes such a module by input times
/// gradient (<c>R_in = x * (dy/dx)^T (R / y)</c>, LRP-0), which conserves it; the transformer composites give it that
/// rule, the named LRP composites <c>Norm</c> (the same, with their stabilizer), as for average pools and sums.
/// Without a rule, the gradient would hand the relevance on multiplied by the map's Jacobian instead.
/// </summary>
public interface ILinearOperation
{
}
