using RelevanceSharp.Attribution;

namespace RelevanceSharp.Cli.Explaining;

/// <summary>One explained image: what the model predicted, which class was explained and the files written.</summary>
/// <param name="Input">The image file.</param>
/// <param name="Predicted">The class with the highest score.</param>
/// <param name="PredictedName">Its name (the index when the model has no class names).</param>
/// <param name="Probability">Its softmax probability.</param>
/// <param name="Target">The class explained.</param>
/// <param name="TargetName">Its name.</param>
/// <param name="Outputs">The files written, heatmap first.</param>
public sealed record ExplainedImage(
    string Input, long Predicted, string PredictedName, double Probability, long Target, string TargetName, IReadOnlyList<string> Outputs)
{
    /// <summary>The image's time: its share of its batch's attribution and the writing of its files.</summary>
    public double Seconds { get; init; }

    /// <summary>Per layer, the channels holding the most relevance (<see cref="ExplainOptions.TopChannels"/>), or <c>null</c>.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<ChannelRelevance>>? TopChannels { get; init; }
}

/// <summary>An image whose attribution was not finite: no files were written for it.</summary>
/// <param name="Input">The image file.</param>
/// <param name="Reason">What went wrong, from <see cref="NonFiniteAttributionException"/>.</param>
public sealed record FailedImage(string Input, string Reason)
{
    /// <summary>The image's time: its share of its batch's attribution and the diagnosis.</summary>
    public double Seconds { get; init; }
}

/// <summary>What a run of an <see cref="ExplainJob"/> did.</summary>
/// <param name="Images">Images explained.</param>
/// <param name="Files">Files written.</param>
/// <param name="Elapsed">Wall-clock time of the run.</param>
/// <param name="Failures">Images left without files because their attribution held NaN or infinite values.</param>
public sealed record ExplainSummary(int Images, int Files, TimeSpan Elapsed, IReadOnlyList<FailedImage> Failures)
{
    /// <summary>Images per second.</summary>
    public double ImagesPerSecond => Elapsed.TotalSeconds > 0 ? Images / Elapsed.TotalSeconds : 0;
}
