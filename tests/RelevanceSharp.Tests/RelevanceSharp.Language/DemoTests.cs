using RelevanceSharp.Language.Demo;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.IO;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Language.Tokenization;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Language;

/// <summary>
/// The text demo: the recall task and its tokenizer, the shipped model (assets/demo/text), training and saving, and
/// the ground-truth table's code against each method computed on its own.
/// </summary>
public sealed class DemoTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("text-demo-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    public static string Shipped { get; } = Path.Combine(TestPaths.RepositoryRoot, "assets", "demo", TextDemoModel.FolderName);

    [Fact]
    public void EveryPromptHasItsAnswerInTheQueriedPairsToken()
    {
        TextTokenizer tokenizer = TextDemoModel.Tokenizer();
        var task = new RecallTask(3);
        foreach (RecallPrompt prompt in task.Take(50))
        {
            IReadOnlyList<TextToken> tokens = tokenizer.Encode(prompt.Text);
            Assert.Equal(task.Tokens, tokens.Count);
            Assert.Equal(prompt.Keys.Count, prompt.Keys.Distinct().Count());
            Assert.Equal(prompt.Values.Count, prompt.Values.Distinct().Count());
            Assert.Equal($" {prompt.Keys[prompt.Query]}={prompt.Values[prompt.Query]}", tokens[prompt.AnswerPosition].Text);
            Assert.Equal(" " + prompt.Keys[prompt.Query], tokens[prompt.QueryPosition].Text);
            Assert.Single(tokenizer.EncodeIds(prompt.Answer, addBeginning: false));
        }
        // Other text still encodes, byte by byte where the vocabulary has no word for it.
        Assert.Equal("Paris, 2024", string.Concat(tokenizer.Encode("Paris, 2024").Where(t => !t.Special).Select(t => t.Text)));
    }

    [Fact]
    public void TheShippedModelAnswersTheTask()
    {
        using DecoderModel model = DecoderCheckpoint.Load(Shipped);
        TextTokenizer tokenizer = TextTokenizer.Load(Shipped);
        Assert.Equal(TextDemoModel.Tokenizer().EncodeIds("pairs: cat=3 | cat"), tokenizer.EncodeIds("pairs: cat=3 | cat"));
        double accuracy = TextDemoModel.Accuracy(model, tokenizer, new RecallTask(99).Take(300));
        Assert.True(accuracy >= 0.99, $"accuracy {accuracy}");
    }

    [Fact]
    public void TrainingWritesAFolderThatLoadsBack()
    {
        using var scope = NewDisposeScope();
        var (model, accuracy) = TextDemoModel.Train(new TextDemoModel.TrainingOptions(Steps: 20, Batch: 8), testPrompts: 20);
        using (model)
        {
            Assert.InRange(accuracy, 0.0, 1.0);
            TextDemoModel.Save(model, folder);
            using DecoderModel loaded = DecoderCheckpoint.Load(folder);
            Tensor ids = tensor(TextDemoModel.Tokenizer().EncodeIds("pairs: cat=3 dog=4 | dog").Select(i => (long)i).ToArray(), new long[] { 1, 6 });
            AssertClose(D(model.Logits(ids)), D(loaded.Logits(ids)), 0);
            Assert.Equal(model.Config, loaded.Config);
        }
    }

    [Fact]
    public void TheTableCountsWhatEachMethodGivesOnItsOwn()
    {
        using var scope = NewDisposeScope();
        using DecoderModel model = DecoderCheckpoint.Load(Shipped, ScalarType.Float64);
        TextTokenizer tokenizer = TextTokenizer.Load(Shipped);
        IReadOnlyList<RecallPrompt> prompts = new RecallTask(5).Take(6);
        var methods = new[]
        {
            GroundTruth.Lrp("attnlrp", LanguageTestKit.AttnLrp()), GroundTruth.Lrp("cp_lrp", LanguageTestKit.CpLrp()),
            GroundTruth.Gradient, GroundTruth.InputTimesGradient, GroundTruth.Rollout, GroundTruth.Random(17),
        };
        IReadOnlyList<GroundTruthRow> rows = GroundTruth.Evaluate(model, tokenizer, prompts, methods, batch: 4);

        var explainer = new TextExplainer(model, tokenizer);
        int[] Top(Func<RecallPrompt, double[]> scores) => prompts.Select(p => Array.IndexOf(scores(p), scores(p).Max())).ToArray();
        double[] Scores(RecallPrompt p, TextMethod method, bool norm)
        {
            TextExplanation e = explainer.Explain(p.Text, method, new TextExplanationOptions(Target: TokenTarget.FromText(p.Answer), PerDimension: true));
            return norm ? e.PerDimension!.Select(d => Math.Sqrt(d.Sum(v => v * v))).ToArray() : e.Relevance.ToArray();
        }
        var random = new Random(17);
        var expected = new Dictionary<string, int[]>
        {
            ["attnlrp"] = Top(p => Scores(p, TextMethod.Lrp("attnlrp", LanguageTestKit.AttnLrp()), false)),
            ["cp_lrp"] = Top(p => Scores(p, TextMethod.Lrp("cp_lrp", LanguageTestKit.CpLrp()), false)),
            ["gradient"] = Top(p => Scores(p, TextMethod.Gradient, true)),
            ["input_x_gradient"] = Top(p => Scores(p, TextMethod.InputTimesGradient, false)),
            ["attention_rollout"] = Top(p => RolloutRow(model, tokenizer, p)),
            // The random method draws its scores batch by batch in prompt order.
            ["random"] = prompts.Select(p =>
            {
                double[] s = Enumerable.Range(0, p.QueryPosition + 1).Select(_ => random.NextDouble()).ToArray();
                return Array.IndexOf(s, s.Max());
            }).ToArray(),
        };
        foreach (GroundTruthRow row in rows)
        {
            int[] top = expected[row.Method];
            Assert.Equal(prompts.Count, row.Prompts);
            Assert.Equal(prompts.Select((p, i) => top[i] == p.AnswerPosition ? 1 : 0).Sum(), row.Hits);
            Assert.Equal(prompts.Select((p, i) => top[i] == p.QueryPosition ? 1 : 0).Sum(), row.QueryHits);
        }
        // The shipped model is a good test: LRP finds the answer's token on most prompts, the random scores on few.
        Assert.True(rows[1].Hits >= 4, rows[1].ToString());
    }

    [Fact]
    public void GenerationExplainsEachTokenAsItIsChosen()
    {
        using DecoderModel model = DecoderCheckpoint.Load(Shipped);
        var explainer = new TextExplainer(model, TextTokenizer.Load(Shipped));
        IReadOnlyList<TextExplanation> steps = explainer.ExplainGeneration("pairs: cat=3 dog=4 owl=7 | owl", 3, TextMethod.Gradient);
        Assert.Equal(3, steps.Count);
        Assert.Equal(" 7", steps[0].PredictedText);
        for (int i = 0; i < steps.Count; i++)
        {
            Assert.Equal(7 + i, steps[i].Tokens.Count);
            Assert.Equal(steps[i].PredictedId, steps[i].TargetId);
            if (i > 0)
            {
                Assert.Equal(steps[i - 1].PredictedId, steps[i].Tokens[^1].Id);
                TextExplanation again = explainer.Explain(steps[i].Tokens.Select(t => t.Id).ToArray(), TextMethod.Gradient);
                Assert.Equal(again.Relevance, steps[i].Relevance);
            }
        }
    }

    // Attention rollout written out with loops: per layer the head-averaged attention, half identity, multiplied in order.
    private static double[] RolloutRow(DecoderModel model, TextTokenizer tokenizer, RecallPrompt prompt)
    {
        var attention = new List<double[]>();
        long[] ids = tokenizer.EncodeIds(prompt.Text).Select(i => (long)i).ToArray();
        int n = ids.Length, heads = model.Config.AttentionHeads;
        foreach (DecoderLayer layer in model.Body.Layers)
        {
            layer.Attention.AttentionObserver = a =>
            {
                attention.Add(D(a));
                a.Dispose();
            };
        }
        try
        {
            model.Logits(tensor(ids, new long[] { 1, n })).Dispose();
        }
        finally
        {
            foreach (DecoderLayer layer in model.Body.Layers)
            {
                layer.Attention.AttentionObserver = null;
            }
        }
        var rollout = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            rollout[i, i] = 1;
        }
        foreach (double[] a in attention)
        {
            var next = new double[n, n];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    for (int k = 0; k < n; k++)
                    {
                        double mean = Enumerable.Range(0, heads).Average(h => a[(h * n + i) * n + k]);
                        next[i, j] += (0.5 * mean + (i == k ? 0.5 : 0)) * rollout[k, j];
                    }
                }
            }
            rollout = next;
        }
        return Enumerable.Range(0, n).Select(j => rollout[n - 1, j]).ToArray();
    }
}
