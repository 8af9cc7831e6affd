namespace RelevanceSharp.Core;

/// <summary>
/// Counts of the engine's work for LRP rules built from terms: what it computed and what it avoided. A diagnostics
/// hook for tests and profiling: set <see cref="Composites.Composite.Counters"/> to an instance, and every
/// registration of that composite counts into it. Without one the engine counts nothing.
/// </summary>
public sealed class EngineCounters
{
    /// <summary>Terms served by the forward pass's output and graph.</summary>
    public int NaturalTerms { get; set; }

    /// <summary>Terms skipped because their input was zero everywhere.</summary>
    public int ZeroInputTerms { get; set; }

    /// <summary>Term inputs used as they are because the part (e.g. the positive one) was the whole input.</summary>
    public int WholeInputs { get; set; }

    /// <summary>Gamma calls computed from the forward output and one convolution with the positive weights.</summary>
    public int GammaFromOutput { get; set; }

    /// <summary>ZPlus calls computed from one layer call with the stabilizer in its bias.</summary>
    public int ZPlusInOneCall { get; set; }

    /// <summary>Layer calls whose input stacked the positive and the negative part of a layer input.</summary>
    public int SignSplitCalls { get; set; }

    /// <summary>Layer calls with the magnitudes of a layer input of both signs and of the weights (Gamma's form for them).</summary>
    public int MagnitudeCalls { get; set; }

    /// <summary>Channels that entered such calls with their negative part.</summary>
    public int SplitNegativeChannels { get; set; }

    /// <summary>Layer calls made to compute terms (a stacked call counts once).</summary>
    public int LayerCalls { get; set; }

    /// <summary>Layer calls that computed several terms at once.</summary>
    public int StackedCalls { get; set; }

    /// <summary>Gradients taken (backward steps through the forward pass or a recomputation).</summary>
    public int Gradients { get; set; }

    private readonly Dictionary<string, double> ruleMilliseconds = new();

    /// <summary>
    /// Wall-clock time of the rule steps of the backward pass, in milliseconds, summed per module (by its name in the
    /// model, as the registration lists it): where an attribution spends its time beyond the forward pass.
    /// </summary>
    public IReadOnlyDictionary<string, double> RuleMilliseconds => ruleMilliseconds;

    internal void AddRuleTime(string module, double milliseconds)
    {
        lock (ruleMilliseconds)
        {
            ruleMilliseconds[module] = ruleMilliseconds.GetValueOrDefault(module) + milliseconds;
        }
    }

    /// <summary>Sets every count to zero and forgets the times.</summary>
    public void Reset()
    {
        NaturalTerms = ZeroInputTerms = WholeInputs = GammaFromOutput = ZPlusInOneCall = SignSplitCalls = SplitNegativeChannels =
            LayerCalls = StackedCalls = Gradients = 0;
        lock (ruleMilliseconds)
        {
            ruleMilliseconds.Clear();
        }
    }
}
