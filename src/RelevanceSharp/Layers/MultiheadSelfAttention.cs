using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Layers;

/// <summary>
/// Multi-head self-attention of batch-first sequences <c>(N, T, E)</c>, computed by modules a rule can attach to:
/// the projections <c>q</c>, <c>k</c>, <c>v</c> and <c>out_proj</c> are Linear layers, <c>scores</c> is the matrix
/// product <c>q k^T / sqrt(head_dim)</c> (<see cref="MatMul"/>), <c>softmax</c> normalizes each row of scores, and
/// <c>mix</c> multiplies the attention weights with the values (<see cref="MatMul"/> with gate 0, the weights). The
/// heads are split and merged by reshapes only, which hand relevance on unchanged. It computes what torch's
/// <c>nn.MultiheadAttention(E, H, batch_first=True)</c> computes for <c>attention(x, x, x)</c> without a mask and
/// dropout, whose fused kernel never calls its projections as modules.
/// </summary>
/// <remarks>
/// The state dict has PyTorch's layout (<see cref="IStateDictLayout"/>): <c>in_proj_weight</c> (<c>3E x E</c>) and
/// <c>in_proj_bias</c> hold q, k and v as row blocks, then come <c>out_proj.weight</c> and <c>out_proj.bias</c>. The
/// weights of q, k and v are views of those two tensors, so a checkpoint loaded into them sets the three layers, and
/// training the layers changes them. Converting the module (<c>to(dtype)</c>, <c>to(device)</c>) keeps that link;
/// a weight assigned to q, k or v by hand is taken into it the next time the state dict is read. TorchSharp's own
/// <c>state_dict</c> of a parent module that does not use <c>TorchOrder</c> lists the parameters under their module
/// names (<c>q.weight</c>, ...) besides these entries.
/// </remarks>
public sealed class MultiheadSelfAttention : nn.Module<Tensor, Tensor>, IStateDictLayout
{
    // The CPU guard must be in force before a model built from these blocks runs its first kernel.
    static MultiheadSelfAttention() => Platform.CpuGuard.Ensure();

    private readonly Linear q;
    private readonly Linear k;
    private readonly Linear v;
    private readonly Linear outProj;
    private readonly MatMul scores;
    private readonly Softmax softmax;
    private readonly MatMul mix;
    private readonly Parameter?[] linked = new Parameter?[6];
    private Tensor? inProjWeight;
    private Tensor? inProjBias;

    /// <summary>Creates the module, initialized as torch initializes <c>nn.MultiheadAttention</c>.</summary>
    /// <param name="embedDim">The model dimension <c>E</c>.</param>
    /// <param name="numHeads">The number of heads; must divide <paramref name="embedDim"/>.</param>
    /// <param name="bias">Whether the projections have biases.</param>
    /// <param name="dtype">The parameters' type.</param>
    /// <param name="device">The parameters' device.</param>
    public MultiheadSelfAttention(long embedDim, long numHeads, bool bias = true, ScalarType? dtype = null, Device? device = null)
        : base(nameof(MultiheadSelfAttention))
    {
        if (embedDim < 1 || numHeads < 1 || embedDim % numHeads != 0)
        {
            throw new ArgumentException(
                $"Multi-head attention needs a positive dimension divisible by a positive number of heads; got dimension {embedDim} and {numHeads} heads.");
        }
        EmbedDim = embedDim;
        NumHeads = numHeads;
        HeadDim = embedDim / numHeads;
        q = nn.Linear(embedDim, embedDim, bias, device, dtype);
        k = nn.Linear(embedDim, embedDim, bias, device, dtype);
        v = nn.Linear(embedDim, embedDim, bias, device, dtype);
        outProj = nn.Linear(embedDim, embedDim, bias, device, dtype);
        scores = new MatMul(1.0 / Math.Sqrt(HeadDim));
        softmax = nn.Softmax(-1);
        mix = new MatMul(gate: 0);
        register_module("q", q);
        register_module("k", k);
        register_module("v", v);
        register_module("out_proj", outProj);
        register_module("scores", scores);
        register_module("softmax", softmax);
        register_module("mix", mix);

        using (no_grad())
        {
            // torch: xavier-uniform on the joined projection weight, zero biases.
            Tensor weight = empty(3 * embedDim, embedDim, dtype: dtype ?? get_default_dtype(), device: device).DetachFromDisposeScope();
            nn.init.xavier_uniform_(weight);
            Tensor? biases = bias ? zeros(3 * embedDim, dtype: dtype ?? get_default_dtype(), device: device).DetachFromDisposeScope() : null;
            outProj.bias?.zero_();
            Link(weight, biases);
        }
    }

    /// <summary>The model dimension <c>E</c>.</summary>
    public long EmbedDim { get; }

    /// <summary>The number of heads.</summary>
    public long NumHeads { get; }

    /// <summary>The dimension of each head, <c>E / heads</c>.</summary>
    public long HeadDim { get; }

    /// <summary>The query projection.</summary>
    public Linear Q => q;

    /// <summary>The key projection.</summary>
    public Linear K => k;

    /// <summary>The value projection.</summary>
    public Linear V => v;

    /// <summary>The output projection.</summary>
    public Linear OutProj => outProj;

    /// <summary>The scaled product of queries and keys.</summary>
    public MatMul Scores => scores;

    /// <summary>The softmax over each row of scores; its outputs are the attention weights (<c>(N, heads, T, T)</c>).</summary>
    public Softmax Softmax => softmax;

    /// <summary>The product of attention weights and values (gate 0: the weights).</summary>
    public MatMul Mix => mix;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (input.dim() != 3 || input.shape[2] != EmbedDim)
        {
            throw new ArgumentException(
                $"MultiheadSelfAttention({EmbedDim}, {NumHeads} heads) takes sequences of shape (N, T, {EmbedDim}); got {Core.TensorShapes.Format(input.shape)}.");
        }
        long n = input.shape[0];
        long t = input.shape[1];
        Tensor queries = q.call(input).view(n, t, NumHeads, HeadDim).transpose(1, 2);
        Tensor keys = k.call(input).view(n, t, NumHeads, HeadDim).permute(0, 2, 3, 1);
        Tensor values = v.call(input).view(n, t, NumHeads, HeadDim).transpose(1, 2);
        Tensor weights = softmax.call(scores.call(queries, keys));
        Tensor mixed = mix.call(weights, values);
        return outProj.call(mixed.transpose(1, 2).reshape(n, t, EmbedDim));
    }

    /// <inheritdoc />
    public IEnumerable<(string Name, Tensor Tensor)> StateDictEntries()
    {
        EnsureLinked();
        yield return ("in_proj_weight", inProjWeight!);
        if (inProjBias is not null)
        {
            yield return ("in_proj_bias", inProjBias);
        }
        yield return ("out_proj.weight", outProj.weight);
        if (outProj.bias is not null)
        {
            yield return ("out_proj.bias", outProj.bias);
        }
    }

    /// <summary>The module's entries in PyTorch's layout (<see cref="StateDictEntries"/>).</summary>
    public override Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null)
    {
        destination ??= new Dictionary<string, Tensor>();
        foreach (var (name, tensor) in StateDictEntries())
        {
            destination.TryAdd(string.IsNullOrEmpty(prefix) ? name : prefix + "." + name, tensor);
        }
        return destination;
    }

    /// <summary>The children are registered by name in the constructor; nothing else is registered.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Converts the projections, then joins q, k and v in the new type or on the new device again.</summary>
    protected override void _toEpilog(ScalarType? dtype, Device? device, bool non_blocking)
    {
        base._toEpilog(dtype, device, non_blocking);
        EnsureLinked();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inProjWeight?.Dispose();
            inProjBias?.Dispose();
            inProjWeight = null;
            inProjBias = null;
        }
        base.Dispose(disposing);
    }

    private Linear[] Projections => [q, k, v];

    // The weights of q, k and v are views of the joined tensors as long as the layers hold the parameters made here.
    // A conversion or an assignment replaces them: their current values are then joined into new tensors.
    private void EnsureLinked()
    {
        Linear[] projections = Projections;
        bool intact = inProjWeight is not null && !inProjWeight.IsInvalid;
        for (int i = 0; i < 3 && intact; i++)
        {
            intact = ReferenceEquals(projections[i].weight, linked[i]) && ReferenceEquals(projections[i].bias, linked[3 + i]);
        }
        if (intact)
        {
            return;
        }
        using var noGrad = no_grad();
        Tensor weight = cat(projections.Select(p => (Tensor)p.weight).ToList(), 0).DetachFromDisposeScope();
        Tensor? bias = projections.All(p => p.bias is not null)
            ? cat(projections.Select(p => (Tensor)p.bias!).ToList(), 0).DetachFromDisposeScope()
            : null;
        Link(weight, bias);
    }

    // Makes the weights (and biases) of q, k and v views of row blocks of the joined tensors, which this module owns.
    private void Link(Tensor weight, Tensor? bias)
    {
        Tensor? oldWeight = inProjWeight;
        Tensor? oldBias = inProjBias;
        Linear[] projections = Projections;
        for (int i = 0; i < 3; i++)
        {
            Linear projection = projections[i];
            bool trainable = projection.weight.requires_grad;
            var rows = new Parameter(weight.narrow(0, i * EmbedDim, EmbedDim), trainable);
            projection.weight = rows;
            linked[i] = rows;
            if (bias is not null)
            {
                var entries = new Parameter(bias.narrow(0, i * EmbedDim, EmbedDim), projection.bias?.requires_grad ?? trainable);
                projection.bias = entries;
                linked[3 + i] = entries;
            }
            else
            {
                linked[3 + i] = projection.bias;
            }
        }
        inProjWeight = weight;
        inProjBias = bias;
        if (!ReferenceEquals(oldWeight, weight))
        {
            oldWeight?.Dispose();
        }
        if (!ReferenceEquals(oldBias, bias))
        {
            oldBias?.Dispose();
        }
    }
}
