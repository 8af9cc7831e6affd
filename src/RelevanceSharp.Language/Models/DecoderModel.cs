using RelevanceSharp.Core;
using RelevanceSharp.Layers;
using RelevanceSharp.Platform;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Language.Models;

/// <summary>
/// The body of a decoder under Hugging Face's name <c>model</c>: the token embedding <c>embed_tokens</c>, the
/// <c>layers</c> and the final <c>norm</c>. Its forward starts from token embeddings, so that relevance and gradients
/// can be taken with respect to them.
/// </summary>
public sealed class DecoderBody : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<DecoderLayer> layers;
    private readonly RMSNorm norm;

    /// <summary>Creates the body.</summary>
    public DecoderBody(DecoderConfig config, ScalarType dtype, Device? device = null) : base(nameof(DecoderBody))
    {
        ArgumentNullException.ThrowIfNull(config);
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize, device: device, dtype: dtype);
        layers = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new DecoderLayer(config, dtype, device)).ToArray());
        norm = new RMSNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        RegisterComponents();
    }

    /// <summary>The token embedding.</summary>
    public Embedding Embeddings => embed_tokens;

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<DecoderLayer> Layers => layers.ToArray();

    /// <summary>Runs the layers and the final norm on token embeddings (batch, tokens, hidden).</summary>
    public override Tensor forward(Tensor embeddings)
    {
        Tensor x = embeddings;
        foreach (DecoderLayer layer in layers)
        {
            x = layer.call(x);
        }
        return norm.call(x);
    }
}

/// <summary>
/// A LLaMA-family decoder (LLaMA, Mistral, Qwen2) with Hugging Face's parameter names
/// (<c>model.embed_tokens.weight</c>, <c>model.layers.N.self_attn.q_proj.weight</c>, ..., <c>lm_head.weight</c>), made of
/// modules that rules attach to. As a <c>Module&lt;Tensor, Tensor&gt;</c> it maps token embeddings (batch, tokens,
/// hidden) to logits (batch, tokens, vocabulary), so that attributions are taken at the embeddings; <see cref="Embed"/>
/// turns token ids into embeddings and <see cref="Logits"/> does both. With tied word embeddings, <c>lm_head</c> shares
/// the embedding matrix. Eval mode, computation in the type the model is built in (float32 or float64).
/// </summary>
public sealed class DecoderModel : nn.Module<Tensor, Tensor>
{
    static DecoderModel() => CpuGuard.Ensure();

    private readonly DecoderBody model;
    private readonly Linear lm_head;

    /// <summary>Creates a model with random weights (PyTorch's default initialization).</summary>
    /// <param name="config">The architecture.</param>
    /// <param name="dtype">The type of weights and computation: float32 or float64.</param>
    /// <param name="device">The device, CPU by default.</param>
    public DecoderModel(DecoderConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null) : base(nameof(DecoderModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64))
        {
            throw new ArgumentException($"A decoder computes in float32 or float64, not {dtype}; weights in other types are converted when loaded.", nameof(dtype));
        }
        Config = config;
        model = new DecoderBody(config, dtype, device);
        lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, device: device, dtype: dtype);
        if (config.TieWordEmbeddings)
        {
            // Assigning disposes lm_head's own matrix; both layers then hold the one embedding matrix.
            lm_head.weight = model.Embeddings.weight!;
        }
        RegisterComponents();
        eval();
    }

    /// <summary>The architecture.</summary>
    public DecoderConfig Config { get; }

    /// <summary>The type of weights and computation (the embedding matrix's, so it follows <c>to(type)</c>).</summary>
    public ScalarType DType => model.Embeddings.weight!.dtype;

    /// <summary>The body (embedding, layers, final norm).</summary>
    public DecoderBody Body => model;

    /// <summary>The output layer (the embedding matrix itself with tied word embeddings).</summary>
    public Linear OutputLayer => lm_head;

    /// <summary>
    /// The parameter names a checkpoint must hold for this architecture, with their shapes: Hugging Face's keys
    /// (<c>lm_head.weight</c> only without tied word embeddings).
    /// </summary>
    public IReadOnlyDictionary<string, long[]> ExpectedWeights()
    {
        var result = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (name, parameter) in named_parameters())
        {
            if (Config.TieWordEmbeddings && name == "lm_head.weight")
            {
                continue;
            }
            result[name] = parameter.shape;
        }
        return result;
    }

    /// <summary>The embeddings of token ids (batch, tokens), after checking every id against the vocabulary.</summary>
    public Tensor Embed(Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.dim() != 2 || ids.dtype != ScalarType.Int64)
        {
            throw new ArgumentException($"Token ids are an int64 tensor of shape (batch, tokens); got {ids.dtype} {TensorShapes.Format(ids.shape)}.");
        }
        if (ids.numel() > 0)
        {
            long low = ids.min().item<long>(), high = ids.max().item<long>();
            if (low < 0 || high >= Config.VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(ids),
                    $"Token id {(low < 0 ? low : high)} is outside the vocabulary of {Config.VocabSize} tokens.");
            }
        }
        return model.Embeddings.call(ids);
    }

    /// <summary>The logits (batch, tokens, vocabulary) of token ids (batch, tokens).</summary>
    public Tensor Logits(Tensor ids)
    {
        using var scope = NewDisposeScope();
        return call(Embed(ids)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// While set, <see cref="forward"/> applies the output layer only at one position per prompt and returns logits of
    /// shape (batch, vocabulary): the rows the full logits have there. An explanation needs no other logits, and the
    /// output layer is a large share of a forward pass (a vocabulary of 128,256 on a hidden size of 2,048). Taking the
    /// rows is a relevance-neutral step between the final norm and the output layer. Set and reset by the explainer.
    /// </summary>
    internal long[]? ExplainedPositions { get; set; }

    /// <summary>Maps token embeddings (batch, tokens, hidden) to logits (batch, tokens, vocabulary).</summary>
    public override Tensor forward(Tensor embeddings)
    {
        CheckInput(embeddings);
        Tensor hidden = model.call(embeddings);
        if (ExplainedPositions is not { } positions)
        {
            return lm_head.call(hidden);
        }
        long batch = embeddings.shape[0], tokens = embeddings.shape[1];
        if (positions.Length != batch || positions.Any(p => p < 0 || p >= tokens))
        {
            throw new ArgumentException($"Each of the {batch} prompts needs one explained position within its {tokens} tokens.");
        }
        using Tensor rows = tensor(positions.Select((p, b) => b * tokens + p).ToArray(), device: embeddings.device);
        return lm_head.call(hidden.reshape(batch * tokens, -1).index_select(0, rows));
    }

    /// <summary>
    /// Checks an input of token embeddings: shape (batch, tokens, hidden) with at least one token, the model's type, and
    /// a length within <c>max_position_embeddings</c> and the sliding window (inside the window the window changes nothing;
    /// a longer prompt would need it, which is not implemented).
    /// </summary>
    public void CheckInput(Tensor embeddings)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        if (embeddings.dim() != 3 || embeddings.shape[2] != Config.HiddenSize || embeddings.shape[1] < 1)
        {
            throw new ArgumentException(
                $"The decoder takes token embeddings of shape (batch, tokens, {Config.HiddenSize}); got {TensorShapes.Format(embeddings.shape)}.");
        }
        if (embeddings.dtype != DType)
        {
            throw new ArgumentException($"The decoder computes in {DType}; got embeddings of type {embeddings.dtype}.");
        }
        long tokens = embeddings.shape[1];
        if (Config.MaxPositions is { } max && tokens > max)
        {
            throw new ArgumentException($"The prompt has {tokens} tokens; the model takes at most {max} (max_position_embeddings).");
        }
        if (Config.SlidingWindow is { } window && tokens > window)
        {
            throw new ArgumentException(
                $"The prompt has {tokens} tokens, more than the model's sliding attention window of {window}; longer prompts are not supported.");
        }
    }
}
