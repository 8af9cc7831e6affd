using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Language.Tokenization;
using RelevanceSharp.Platform;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Language.Explaining;

/// <summary>What is explained at the chosen position: the target's logit, or its log-probability.</summary>
public enum ExplainedScore
{
    /// <summary>The logit of the target (minus the contrast's logit, with a contrast).</summary>
    Logit,

    /// <summary>
    /// The log-probability of the target (minus the contrast's). LRP is seeded at the logits with
    /// <c>z * (e_target - softmax(z))</c>, input times gradient of the log-probability there; the log-sum-exp's part
    /// that no single logit carries is absorbed.
    /// </summary>
    LogProbability,
}

/// <summary>
/// An attribution method for token embeddings: the gradient, input times gradient, or LRP with a composite (AttnLRP,
/// CP-LRP, ...). LRP relevance is seeded with the explained score itself, so that a conservative composite's relevance
/// sums to it (as input times the modified gradient does in LXT).
/// </summary>
/// <param name="Name">The name shown in reports.</param>
/// <param name="Composite">The composite of an LRP method, or <c>null</c>.</param>
/// <param name="TimesInput">Whether the gradient is multiplied by the embeddings (input times gradient).</param>
public sealed record TextMethod(string Name, Composite? Composite = null, bool TimesInput = false)
{
    /// <summary>The gradient of the score with respect to the embeddings.</summary>
    public static TextMethod Gradient { get; } = new("gradient");

    /// <summary>The embeddings times that gradient.</summary>
    public static TextMethod InputTimesGradient { get; } = new("input_x_gradient", null, true);

    /// <summary>LRP with <paramref name="composite"/>, shown as <paramref name="name"/>.</summary>
    public static TextMethod Lrp(string name, Composite composite) =>
        new(name, composite ?? throw new ArgumentNullException(nameof(composite)));
}

/// <summary>The explained position, target and contrast, and what is explained.</summary>
/// <param name="Position">The position whose next-token logits are explained; negative counts from the end (-1: the last token).</param>
/// <param name="Target">The explained token; <see cref="TokenTarget.Predicted"/> by default.</param>
/// <param name="Contrast">A token whose score is subtracted from the target's, or <c>null</c>.</param>
/// <param name="Score">The logit or the log-probability.</param>
/// <param name="PerDimension">Whether to keep the relevance of every embedding dimension, not only the sum per token.</param>
public sealed record TextExplanationOptions(int Position = -1, TokenTarget? Target = null, TokenTarget? Contrast = null,
    ExplainedScore Score = ExplainedScore.Logit, bool PerDimension = false);

/// <summary>The relevance of each token of a prompt for one next-token score.</summary>
public sealed record TextExplanation
{
    /// <summary>The prompt's tokens, with the text each covers.</summary>
    public required IReadOnlyList<TextToken> Tokens { get; init; }

    /// <summary>The relevance of each token (summed over its embedding).</summary>
    public required IReadOnlyList<double> Relevance { get; init; }

    /// <summary>The relevance of each embedding dimension of each token (tokens x hidden), when asked for.</summary>
    public double[][]? PerDimension { get; init; }

    /// <summary>The method's name.</summary>
    public required string Method { get; init; }

    /// <summary>The explained position (from the start, 0-based).</summary>
    public required int Position { get; init; }

    /// <summary>The explained token.</summary>
    public required int TargetId { get; init; }

    /// <summary>The explained token's text.</summary>
    public required string TargetText { get; init; }

    /// <summary>The contrast token, if any.</summary>
    public int? ContrastId { get; init; }

    /// <summary>The contrast token's text, if any.</summary>
    public string? ContrastText { get; init; }

    /// <summary>Whether the logit or the log-probability is explained.</summary>
    public required ExplainedScore ScoreKind { get; init; }

    /// <summary>The explained score: the target's logit or log-probability, minus the contrast's.</summary>
    public required double Score { get; init; }

    /// <summary>The target's probability at the position.</summary>
    public required double Probability { get; init; }

    /// <summary>The token the model predicts at the position.</summary>
    public required int PredictedId { get; init; }

    /// <summary>The predicted token's text.</summary>
    public required string PredictedText { get; init; }

    /// <summary>The sum of the relevance over all tokens (for a conservative LRP method, close to <see cref="Score"/>).</summary>
    public double Total => Relevance.Sum();
}

/// <summary>
/// Explains a decoder's next-token prediction: the relevance of each prompt token (at its embedding) for the logit or
/// log-probability of a target token at a position, by the gradient, input times gradient, or LRP with any composite
/// (the named <c>attnlrp</c> and <c>cp_lrp</c> composites give AttnLRP and CP-LRP). By default the last position and
/// the predicted token are explained; a contrast token turns the score into target minus contrast.
/// </summary>
public sealed class TextExplainer
{
    static TextExplainer() => CpuGuard.Ensure();

    /// <summary>Creates an explainer; without a tokenizer, prompts are given as ids and tokens are shown by id.</summary>
    public TextExplainer(DecoderModel model, TextTokenizer? tokenizer = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Tokenizer = tokenizer;
    }

    /// <summary>The model.</summary>
    public DecoderModel Model { get; }

    /// <summary>The tokenizer, if any.</summary>
    public TextTokenizer? Tokenizer { get; }

    /// <summary>Explains a text prompt, encoded with the tokenizer (its beginning-of-text token first, when it has one).</summary>
    public TextExplanation Explain(string prompt, TextMethod method, TextExplanationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        TextTokenizer tokenizer = Tokenizer ?? throw new InvalidOperationException("Explaining a text prompt needs a tokenizer; give token ids instead.");
        IReadOnlyList<int> ids = tokenizer.EncodeIds(prompt);
        if (ids.Count == 0)
        {
            throw new ArgumentException("The prompt encodes to no token.", nameof(prompt));
        }
        return Explain(ids, method, options, prompt);
    }

    /// <summary>
    /// Generates up to <paramref name="tokens"/> tokens greedily (each the most likely next token) and explains each one
    /// as it is chosen: explanation <c>i</c> covers the prompt and the <c>i</c> tokens generated before it. Generation stops
    /// after a special token (the end of the text). Options other than the position apply to every step; a target or a
    /// contrast given as text or id is explained at every step instead of the predicted token, which is still the one
    /// appended.
    /// </summary>
    public IReadOnlyList<TextExplanation> ExplainGeneration(string prompt, int tokens, TextMethod method, TextExplanationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        TextTokenizer tokenizer = Tokenizer ?? throw new InvalidOperationException("Generating from a text prompt needs a tokenizer.");
        if (tokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "Generate at least one token.");
        }
        var ids = tokenizer.EncodeIds(prompt).ToList();
        var result = new List<TextExplanation>();
        string text = prompt;
        for (int step = 0; step < tokens; step++)
        {
            TextExplanation explanation = Explain(ids, method, (options ?? new TextExplanationOptions()) with { Position = -1 }, text);
            result.Add(explanation);
            ids.Add(explanation.PredictedId);
            if (tokenizer.IsSpecial(explanation.PredictedId))
            {
                break;
            }
            text += explanation.PredictedText;
        }
        return result;
    }

    /// <summary>Explains a prompt given as token ids.</summary>
    public TextExplanation Explain(IReadOnlyList<int> ids, TextMethod method, TextExplanationOptions? options = null) =>
        Explain(ids, method, options, null);

    private TextExplanation Explain(IReadOnlyList<int> ids, TextMethod method, TextExplanationOptions? options, string? prompt)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(method);
        options ??= new TextExplanationOptions();
        int position = options.Position < 0 ? ids.Count + options.Position : options.Position;
        if (position < 0 || position >= ids.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Position, $"Position {options.Position} is outside the prompt's {ids.Count} tokens.");
        }
        using var scope = NewDisposeScope();
        using Tensor input = tensor(ids.Select(i => (long)i).ToArray(), new long[] { 1, ids.Count });
        Tensor logits;
        using (no_grad())
        {
            logits = Model.Logits(input)[0, position].to(ScalarType.Float64);
        }
        int predicted = (int)logits.argmax().item<long>();
        int target = Resolve(options.Target ?? TokenTarget.Predicted, predicted, prompt, ids, position, "target");
        int? contrast = options.Contrast is null ? null : Resolve(options.Contrast, predicted, prompt, ids, position, "contrast");
        if (contrast == target)
        {
            throw new ArgumentException($"The contrast is the target itself (token {target}); the explained difference would be zero.");
        }
        Tensor logProbabilities = logits.log_softmax(0);
        double score = options.Score == ExplainedScore.Logit
            ? logits[target].item<double>() - (contrast is { } c1 ? logits[c1].item<double>() : 0.0)
            : logProbabilities[target].item<double>() - (contrast is { } c2 ? logProbabilities[c2].item<double>() : 0.0);
        Tensor relevance = Attribute(Model, input, method, new[] { position }, new[] { target }, contrast is null ? null : new[] { contrast.Value }, options.Score)[0];
        double[] perToken = relevance.sum(-1).to(ScalarType.Float64).data<double>().ToArray();
        double[][]? perDimension = null;
        if (options.PerDimension)
        {
            double[] flat = relevance.to(ScalarType.Float64).contiguous().data<double>().ToArray();
            int width = (int)relevance.shape[1];
            perDimension = Enumerable.Range(0, ids.Count).Select(t => flat.AsSpan(t * width, width).ToArray()).ToArray();
        }
        return new TextExplanation
        {
            Tokens = Tokens(ids),
            Relevance = perToken,
            PerDimension = perDimension,
            Method = method.Name,
            Position = position,
            TargetId = target,
            TargetText = TokenText(target),
            ContrastId = contrast,
            ContrastText = contrast is { } c3 ? TokenText(c3) : null,
            ScoreKind = options.Score,
            Score = score,
            Probability = Math.Exp(logProbabilities[target].item<double>()),
            PredictedId = predicted,
            PredictedText = TokenText(predicted),
        };
    }

    /// <summary>
    /// The attribution at the token embeddings of a batch of prompts (batch, tokens), one explained position, target
    /// and optional contrast per prompt: (batch, tokens, hidden). Prompts in a batch are independent, so a batch gives
    /// what each prompt alone would.
    /// </summary>
    public static Tensor Attribute(DecoderModel model, Tensor ids, TextMethod method, IReadOnlyList<int> positions, IReadOnlyList<int> targets,
        IReadOnlyList<int>? contrasts = null, ExplainedScore score = ExplainedScore.Logit)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(method);
        long batch = ids.shape[0];
        if (positions.Count != batch || targets.Count != batch || (contrasts is not null && contrasts.Count != batch))
        {
            throw new ArgumentException($"A batch of {batch} prompts needs one position, target (and contrast) each.");
        }
        foreach (int t in targets.Concat(contrasts ?? Array.Empty<int>()))
        {
            if (t < 0 || t >= model.Config.VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), t, $"Token {t} is outside the vocabulary of {model.Config.VocabSize} tokens.");
            }
        }
        using var scope = NewDisposeScope();
        Tensor embeddings = model.Embed(ids).detach();
        bool lrp = method.Composite is not null;
        var target = AttributionTarget.FromFunction(output =>
        {
            Tensor seed = SeedGradient(output, targets, contrasts, score);
            // LRP starts from the score itself: relevance z * dS/dz at the logits, so that the output layer's rule hands
            // on input times the gradient (LXT's convention); the gradient methods start from dS/dz.
            return lrp ? seed.mul_(output) : seed;
        }, "next-token score");
        var attributor = new Gradient(model, method.Composite, target);
        // Only the explained positions' logits enter the score: the output layer runs on those rows alone.
        model.ExplainedPositions = positions.Select(p => (long)p).ToArray();
        AttributionResult result;
        try
        {
            result = attributor.Attribute(embeddings);
        }
        finally
        {
            model.ExplainedPositions = null;
        }
        using var owned = result;
        Tensor relevance = method.TimesInput ? result.Relevance * embeddings : result.Relevance.alias();
        return relevance.MoveToOuterDisposeScope();
    }

    // dS/dz at the explained logits (batch, vocabulary): the one-hot of the target (minus the contrast's), or for the
    // log-probability e_target - softmax(z) (minus e_contrast - softmax(z)).
    private static Tensor SeedGradient(Tensor output, IReadOnlyList<int> targets, IReadOnlyList<int>? contrasts, ExplainedScore score)
    {
        Tensor seed = zeros_like(output);
        for (int b = 0; b < targets.Count; b++)
        {
            Tensor row = seed[b];
            row[targets[b]].add_(Scalars.Of(1.0), Scalars.One);
            if (score == ExplainedScore.LogProbability && contrasts is null)
            {
                row.sub_(output[b].softmax(0));
            }
            if (contrasts is not null)
            {
                // The softmax parts of two log-probabilities cancel in their difference.
                row[contrasts[b]].sub_(Scalars.Of(1.0));
            }
        }
        return seed;
    }

    private int Resolve(TokenTarget target, int predicted, string? prompt, IReadOnlyList<int> ids, int position, string what)
    {
        if (target.TokenId is { } id)
        {
            return id < Model.Config.VocabSize
                ? id
                : throw new ArgumentOutOfRangeException(what, id, $"The {what} token {id} is outside the vocabulary of {Model.Config.VocabSize} tokens.");
        }
        if (target.Text is { } text)
        {
            TextTokenizer tokenizer = Tokenizer ?? throw new InvalidOperationException($"A {what} given as text needs a tokenizer; give a token id.");
            // The text continues what stands before the explained position's next token.
            string context = prompt is not null && position == ids.Count - 1 ? prompt : tokenizer.Describe(ids.Take(position + 1).ToArray())
                .Where(t => !t.Special).Aggregate("", (s, t) => s + t.Text);
            int first = tokenizer.ContinuationToken(context, text).Id;
            return first < Model.Config.VocabSize
                ? first
                : throw new ArgumentException($"The {what} text \"{text}\" starts with token {first}, outside the model's vocabulary of {Model.Config.VocabSize}.");
        }
        return predicted;
    }

    private IReadOnlyList<TextToken> Tokens(IReadOnlyList<int> ids) => Tokenizer is { } tokenizer
        ? tokenizer.Describe(ids)
        : ids.Select(id => new TextToken(id, id.ToString(System.Globalization.CultureInfo.InvariantCulture), $"[{id}]", false)).ToArray();

    private string TokenText(int id) => Tokenizer is { } tokenizer && id < tokenizer.IdCount
        ? tokenizer.TokenText(id)
        : $"[{id}]";
}
