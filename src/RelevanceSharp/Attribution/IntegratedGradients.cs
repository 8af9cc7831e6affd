using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Attribution;

/// <summary>
/// Integrated Gradients: gradients at <c>n</c> points on the straight path from a baseline to the input
/// (<c>alpha = 1/n, 2/n, ..., 1</c>), averaged and multiplied by <c>input - baseline</c>.
/// </summary>
public sealed class IntegratedGradients : Attributor
{
    /// <summary>The number of steps unless given another.</summary>
    public const int DefaultIterations = 20;

    private static readonly ArgumentSpec IterationsArgument =
        ArgumentSpec.WholeNumber("iterations", DefaultIterations, "Steps on the path from the zero baseline to the input.") with { Minimum = 1 };

    private readonly Func<Tensor, Tensor> baseline;

    /// <summary>
    /// The registry entry: <c>integrated_gradients</c> from a zero baseline (also spelled <c>integrated-gradients</c>,
    /// as <c>relevance explain --method</c> first did).
    /// </summary>
    [RegistryEntry(30)]
    public static MethodEntry Entry { get; } = new("integrated_gradients", "Integrated Gradients from a zero baseline.", [IterationsArgument],
        c => new IntegratedGradients(c.Model, c.Composite, c.Target, iterations: (int)c.Arguments.WholeNumber(IterationsArgument)))
    {
        Aliases = ["integrated-gradients"],
        Describe = (v, composite) => $"Integrated Gradients ({v["iterations"]} steps)" + (composite is null ? "" : $" of LRP with {composite}"),
    };

    /// <summary>Creates the attributor; the baseline is a function of the input (zeros by default).</summary>
    public IntegratedGradients(nn.Module<Tensor, Tensor> model, Composite? composite = null, AttributionTarget? target = null,
        Func<Tensor, Tensor>? baseline = null, int iterations = DefaultIterations)
        : base(model, composite, target)
    {
        if (iterations < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "Integrated Gradients needs at least one step.");
        }
        this.baseline = baseline ?? (x => zeros_like(x));
        Iterations = iterations;
    }

    /// <summary>Number of steps.</summary>
    public int Iterations { get; }

    /// <inheritdoc />
    protected override (Tensor Output, Tensor Relevance) Compute(Tensor input, AttributionTarget target)
    {
        Tensor reference = baseline(input);
        if (!reference.shape.SequenceEqual(input.shape))
        {
            throw new ArgumentException($"The baseline has shape {TensorShapes.Format(reference.shape)}, the input {TensorShapes.Format(input.shape)}.");
        }
        // The steps are the float32 values of linspace(1/n, 1, n), as in the reference implementation.
        float[] alphas = linspace(1.0 / Iterations, 1.0, Iterations, dtype: ScalarType.Float32).data<float>().ToArray();
        Tensor result = zeros_like(input);
        Tensor output = input;
        Tensor difference = input - reference;
        foreach (float alpha in alphas)
        {
            Tensor step = reference.add(difference.mul(Scalars.Of((double)alpha)), Scalars.One);
            (output, Tensor gradient) = Gradient(step, target);
            result = result.add(gradient.div(Scalars.Of(Iterations)), Scalars.One);
        }
        return (output, result * difference);
    }
}
