using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.Models;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Language;

/// <summary>
/// What is explained: the predicted token by default, a contrast as the difference of two explanations, the
/// log-probability as the logit explanations weighted by the softmax, input x gradient, per-dimension relevance.
/// </summary>
public class TextExplainerTests
{
    private static readonly int[] Prompt = { 5, 17, 33, 2, 60, 41, 8 };

    private static double[] Dims(TextExplanation e) => e.PerDimension!.SelectMany(r => r).ToArray();

    public static TheoryData<string> Methods() => new() { "gradient", "attnlrp", "cp_lrp" };

    private static TextMethod Method(string name) => name switch
    {
        "gradient" => TextMethod.Gradient,
        "attnlrp" => TextMethod.Lrp(name, LanguageTestKit.AttnLrp()),
        _ => TextMethod.Lrp(name, LanguageTestKit.CpLrp()),
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void AContrastExplainsTheDifferenceOfTwoTargets(string name)
    {
        using DecoderModel model = LanguageTestKit.LoadLlamaTiny();
        var explainer = new TextExplainer(model);
        TextExplanation predicted = explainer.Explain(Prompt, Method(name), new TextExplanationOptions(PerDimension: true));
        TextExplanation other = explainer.Explain(Prompt, Method(name), new TextExplanationOptions(Target: TokenTarget.Id(7), PerDimension: true));
        TextExplanation contrast = explainer.Explain(Prompt, Method(name),
            new TextExplanationOptions(Contrast: TokenTarget.Id(7), PerDimension: true));
        Assert.NotEqual(7, predicted.TargetId);
        Assert.Equal(predicted.TargetId, predicted.PredictedId);
        Assert.Equal(predicted.Score - other.Score, contrast.Score, 12);
        // Every rule is linear in the relevance it receives, so explaining z_t - z_c is explaining z_t minus explaining z_c.
        AssertClose(Dims(predicted).Zip(Dims(other), (a, b) => a - b).ToArray(), Dims(contrast), 1e-9, "relevance");
        AssertClose(contrast.PerDimension!.Select(r => r.Sum()).ToArray(), contrast.Relevance.ToArray(), 1e-12, "token sum");
    }

    [Fact]
    public void TheLogProbabilityIsTheLogitExplanationsWeightedByTheSoftmax()
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = LanguageTestKit.LoadLlamaTiny();
        var explainer = new TextExplainer(model);
        TextMethod method = Method("attnlrp");
        TextExplanation logProbability = explainer.Explain(Prompt, method,
            new TextExplanationOptions(Target: TokenTarget.Id(3), Score: ExplainedScore.LogProbability));
        double[] p = D(model.Logits(tensor(Prompt.Select(i => (long)i).ToArray(), new long[] { 1, Prompt.Length }))[0, -1].softmax(0));
        var expected = new double[Prompt.Length];
        for (int v = 0; v < p.Length; v++)
        {
            TextExplanation logit = explainer.Explain(Prompt, method, new TextExplanationOptions(Target: TokenTarget.Id(v)));
            for (int t = 0; t < Prompt.Length; t++)
            {
                expected[t] += ((v == 3 ? 1 : 0) - p[v]) * logit.Relevance[t];
            }
        }
        AssertClose(expected, logProbability.Relevance.ToArray(), 1e-9, "relevance");
        Assert.Equal(Math.Log(p[3]), logProbability.Score, 10);
        Assert.Equal(p[3], logProbability.Probability, 12);
    }

    [Fact]
    public void InputTimesGradientIsTheEmbeddingsTimesTheGradient()
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = LanguageTestKit.LoadLlamaTiny();
        var explainer = new TextExplainer(model);
        var options = new TextExplanationOptions(Position: 3, PerDimension: true);
        TextExplanation gradient = explainer.Explain(Prompt, TextMethod.Gradient, options);
        TextExplanation inputTimes = explainer.Explain(Prompt, TextMethod.InputTimesGradient, options);
        double[] embeddings = D(model.Embed(tensor(Prompt.Select(i => (long)i).ToArray(), new long[] { 1, Prompt.Length })));
        AssertClose(Dims(gradient).Zip(embeddings, (g, x) => g * x).ToArray(), Dims(inputTimes), 1e-14);
        Assert.Equal(3, gradient.Position);
        // Position 3 sees only the first four tokens.
        Assert.All(gradient.Relevance.Skip(4), r => Assert.Equal(0.0, r));
        Assert.Contains(gradient.Relevance.Take(4), r => r != 0.0);
    }

    [Fact]
    public void RefusesWhatCannotBeExplained()
    {
        using DecoderModel model = LanguageTestKit.LoadLlamaTiny();
        var explainer = new TextExplainer(model);
        Assert.Throws<ArgumentOutOfRangeException>(() => explainer.Explain(Prompt, TextMethod.Gradient, new TextExplanationOptions(Position: 7)));
        Assert.Throws<ArgumentOutOfRangeException>(() => explainer.Explain(Prompt, TextMethod.Gradient, new TextExplanationOptions(Target: TokenTarget.Id(64))));
        Assert.Throws<ArgumentException>(() => explainer.Explain(Prompt, TextMethod.Gradient,
            new TextExplanationOptions(Target: TokenTarget.Id(3), Contrast: TokenTarget.Id(3))));
        Assert.Throws<InvalidOperationException>(() => explainer.Explain("text", TextMethod.Gradient));
        Assert.Equal(12, TokenTarget.Parse("12").TokenId);
        Assert.Equal("12", TokenTarget.Parse("'12'").Text);
        Assert.Equal(" Paris", TokenTarget.Parse(" Paris").Text);
    }
}
