using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// What is explained: the vector the backward pass starts from, as a function of the model output (zennit's
/// <c>attr_output</c>). Use <see cref="Class(long)"/> for "why class k", <see cref="Predicted"/> for each
/// sample's top class, <see cref="ClassScore(long)"/> for the score itself (what occlusion measures).
/// </summary>
public sealed class AttributionTarget
{
    private readonly Func<Tensor, Tensor> resolve;

    private AttributionTarget(string description, Func<Tensor, Tensor> resolve)
    {
        Description = description;
        this.resolve = resolve;
    }

    /// <summary>A human-readable description.</summary>
    public string Description { get; }

    /// <summary>The model output itself (the default of zennit's attributors).</summary>
    public static AttributionTarget Output { get; } = new("output", output => output);

    /// <summary>The one-hot vector of each sample's highest-scoring class.</summary>
    public static AttributionTarget Predicted { get; } = new("predicted class", output =>
        nn.functional.one_hot(output.argmax(1), output.shape[1]).to(output.dtype));

    /// <summary>The one-hot vector of one class for every sample.</summary>
    public static AttributionTarget Class(long index) => new($"class {index}", output =>
    {
        CheckClass(output, index);
        Tensor seed = zeros_like(output);
        seed[TensorIndex.Colon, TensorIndex.Single(index)] = 1.0;
        return seed;
    });

    /// <summary>The one-hot vector of one class per sample.</summary>
    public static AttributionTarget Classes(IReadOnlyList<long> indices) => new($"classes [{string.Join(", ", indices)}]", output =>
    {
        if (indices.Count != output.shape[0])
        {
            throw new ArgumentException($"{indices.Count} target classes were given for a batch of {output.shape[0]}.");
        }
        foreach (long index in indices)
        {
            CheckClass(output, index);
        }
        return nn.functional.one_hot(tensor(indices.ToArray(), device: output.device), output.shape[1]).to(output.dtype);
    });

    /// <summary>The model output times the one-hot vector of a class: the class score.</summary>
    public static AttributionTarget ClassScore(long index) => new($"score of class {index}", output =>
    {
        CheckClass(output, index);
        Tensor seed = zeros_like(output);
        seed[TensorIndex.Colon, TensorIndex.Single(index)] = 1.0;
        return output * seed;
    });

    /// <summary>The model output times the one-hot vector of one class per sample: each sample's class score.</summary>
    public static AttributionTarget ClassScores(IReadOnlyList<long> indices)
    {
        AttributionTarget oneHot = Classes(indices);
        return new($"scores of classes [{string.Join(", ", indices)}]", output => output * oneHot.Resolve(output));
    }

    /// <summary>A fixed tensor shaped like the model output.</summary>
    public static AttributionTarget FromTensor(Tensor seed)
    {
        Tensor kept = seed.detach().clone().DetachFromDisposeScope();
        return new AttributionTarget("tensor", output =>
        {
            if (!kept.shape.SequenceEqual(output.shape))
            {
                throw new ArgumentException(
                    $"The attribution seed has shape [{string.Join(", ", kept.shape)}] but the model output has shape [{string.Join(", ", output.shape)}].");
            }
            return kept.to(output.dtype, output.device);
        });
    }

    /// <summary>Any function of the model output.</summary>
    public static AttributionTarget FromFunction(Func<Tensor, Tensor> function, string description = "function") =>
        new(description, function);

    /// <summary>The seed for a given (detached) model output.</summary>
    public Tensor Resolve(Tensor output) => resolve(output);

    /// <inheritdoc />
    public override string ToString() => Description;

    private static void CheckClass(Tensor output, long index)
    {
        if (output.dim() < 2)
        {
            throw new ArgumentException($"A class target needs an output of shape (batch, classes); got [{string.Join(", ", output.shape)}].");
        }
        if (index < 0 || index >= output.shape[1])
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Target class {index} is out of range: the model has {output.shape[1]} outputs (0 to {output.shape[1] - 1}).");
        }
    }
}
