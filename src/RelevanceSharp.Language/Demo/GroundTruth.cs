using System.Globalization;
using RelevanceSharp.Composites;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Language.Tokenization;
using static TorchSharp.torch;

namespace RelevanceSharp.Language.Demo;

/// <summary>One method's row of the ground-truth table.</summary>
/// <param name="Method">The method.</param>
/// <param name="Hits">Prompts whose largest token score is on the token that holds the answer.</param>
/// <param name="Prompts">Prompts evaluated.</param>
/// <param name="QueryHits">Prompts whose largest score is on the query (the last token) instead.</param>
public sealed record GroundTruthRow(string Method, int Hits, int Prompts, int QueryHits)
{
    /// <summary>The share of hits.</summary>
    public double Rate => Prompts == 0 ? 0 : (double)Hits / Prompts;

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Method,-18} {Hits,5}/{Prompts} = {Rate * 100,5:F1}%   (on the query: {QueryHits})");
}

/// <summary>
/// The ground-truth check of explanations on the demo task: for each recall prompt, every method scores each token, and
/// a hit is a prompt whose highest-scoring token is the one that holds the answer (the pair of the queried key). The
/// explained score is the logit of the correct answer at the last position. Token scores: LRP relevance summed over the
/// embedding; the gradient's Euclidean norm per token (its sum has no meaning of its own); input x gradient summed over
/// the embedding; attention rollout's row of the last position; a uniformly random token.
/// </summary>
public static class GroundTruth
{
    /// <summary>A method of the table: its name and its token scores (batch, tokens) for a batch of prompts.</summary>
    public sealed record Method(string Name, Func<DecoderModel, Tensor, long[], Tensor> Scores);

    /// <summary>LRP with a composite: relevance summed over each token's embedding.</summary>
    public static Method Lrp(string name, Composite composite) => new(name, (model, ids, answers) =>
        Explain(model, ids, answers, TextMethod.Lrp(name, composite)).sum(-1));

    /// <summary>The gradient's norm per token.</summary>
    public static Method Gradient { get; } = new("gradient", (model, ids, answers) =>
        Explain(model, ids, answers, TextMethod.Gradient).norm(-1));

    /// <summary>Input x gradient summed per token.</summary>
    public static Method InputTimesGradient { get; } = new("input_x_gradient", (model, ids, answers) =>
        Explain(model, ids, answers, TextMethod.InputTimesGradient).sum(-1));

    /// <summary>Attention rollout's row of the last position.</summary>
    public static Method Rollout { get; } = new("attention_rollout", (model, ids, answers) =>
        AttentionRollout.Compute(model, ids)[.., -1]);

    /// <summary>A uniformly random score per token (seeded).</summary>
    public static Method Random(int seed)
    {
        var generator = new Random(seed);
        return new Method("random", (model, ids, answers) =>
        {
            double[] values = Enumerable.Range(0, (int)ids.numel()).Select(_ => generator.NextDouble()).ToArray();
            return tensor(values, ids.shape, ScalarType.Float64);
        });
    }

    /// <summary>The table's methods: AttnLRP, CP-LRP, gradient, input x gradient, attention rollout, random (seeded).</summary>
    public static IReadOnlyList<Method> Methods(int seed) => new[]
    {
        Lrp("attnlrp", DecoderComposites.AttnLrp()), Lrp("cp_lrp", DecoderComposites.CpLrp()), Gradient, InputTimesGradient, Rollout, Random(seed),
    };

    private static Tensor Explain(DecoderModel model, Tensor ids, long[] answers, TextMethod method)
    {
        int batch = (int)ids.shape[0], last = (int)ids.shape[1] - 1;
        return TextExplainer.Attribute(model, ids, method, Enumerable.Repeat(last, batch).ToArray(), answers.Select(a => (int)a).ToArray());
    }

    /// <summary>The position of each prompt's highest score (batch, tokens) -> (batch).</summary>
    public static int[] TopTokens(Tensor scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        using var scope = NewDisposeScope();
        return scores.argmax(-1).to(ScalarType.Int64).data<long>().Select(v => (int)v).ToArray();
    }

    /// <summary>Runs every method over the prompts in batches and counts the hits.</summary>
    public static IReadOnlyList<GroundTruthRow> Evaluate(DecoderModel model, TextTokenizer tokenizer, IReadOnlyList<RecallPrompt> prompts,
        IReadOnlyList<Method> methods, int batch = 50, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(methods);
        var hits = new int[methods.Count];
        var queryHits = new int[methods.Count];
        for (int start = 0; start < prompts.Count; start += batch)
        {
            using var scope = NewDisposeScope();
            RecallPrompt[] part = prompts.Skip(start).Take(batch).ToArray();
            var (ids, answers) = TextDemoModel.Batch(tokenizer, part);
            for (int m = 0; m < methods.Count; m++)
            {
                int[] top = TopTokens(methods[m].Scores(model, ids, answers));
                for (int i = 0; i < part.Length; i++)
                {
                    hits[m] += top[i] == part[i].AnswerPosition ? 1 : 0;
                    queryHits[m] += top[i] == part[i].QueryPosition ? 1 : 0;
                }
            }
            progress?.Invoke(start + part.Length);
        }
        return methods.Select((m, i) => new GroundTruthRow(m.Name, hits[i], prompts.Count, queryHits[i])).ToArray();
    }
}
