using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Platform;
using RelevanceSharp.Vision.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Vision.Platform;

/// <summary>One attribution of the self-check.</summary>
/// <param name="Composite">The named composite.</param>
/// <param name="Batch">The batch size.</param>
/// <param name="Finite">Whether output and relevance held only finite values.</param>
/// <param name="Difference">Largest absolute difference to the general path, relative to the largest relevance.</param>
/// <param name="Tolerance">The largest relative difference accepted.</param>
public sealed record KernelCheck(string Composite, int Batch, bool Finite, double Difference, double Tolerance)
{
    /// <summary>Whether the attribution is finite and matches the general path.</summary>
    public bool Passed => Finite && Difference <= Tolerance;

    /// <inheritdoc />
    public override string ToString() =>
        $"{(Passed ? "ok" : "FAILED")}  {Composite}, batch {Batch}: " +
        (Finite ? $"largest difference to the general path {Difference:G3} of the largest relevance (at most {Tolerance:G1})" : "non-finite values");
}

/// <summary>
/// Runs the kernels that fail on processors without cache topology: a float32 ResNet with bottleneck blocks (whose
/// downsampling 1x1 stride-2 convolution made oneDNN divide by zero in its backward pass) under every named composite
/// with the <c>resnet</c> canonizer, comparing each attribution with the engine's general path. Random weights and
/// batch-norm statistics; about ten seconds on two cores.
/// </summary>
public static class KernelSelfCheck
{
    /// <summary>Relative tolerance between the engine's shortcuts and the general path in float32.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>Runs every named composite at each batch size; yields each result as it is known.</summary>
    public static IEnumerable<KernelCheck> Run(IReadOnlyList<int>? batches = null, int size = 64)
    {
        CpuGuard.Ensure();
        using var model = Model();
        foreach (int batch in batches ?? new[] { 1, 2 })
        {
            foreach (CompositeEntry entry in CompositeRegistry.All)
            {
                yield return Check(model, entry.Name, batch, size);
            }
        }
    }

    private static KernelCheck Check(ResNet model, string name, int batch, int size)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(17UL + (ulong)batch);
        Tensor input = randn(new long[] { batch, 3, size, size }, generator: generator).clamp(Scalars.Of(-3), Scalars.Of(3));
        ArgumentReader arguments = name == "epsilon_gamma_box" ? ArgumentReader.Parse(new[] { "low=-3", "high=3" }) : ArgumentReader.Empty;
        Composite composite = CompositeRegistry.Create(name, arguments, new[] { CanonizerRegistry.Create("resnet") });
        var target = AttributionTarget.Class(1);
        (Tensor output, Tensor relevance) = Attribute(new Gradient(model, composite), input, target);
        (_, Tensor reference) = Attribute(new Gradient(model, new GeneralPathComposite(composite)), input, target);
        bool finite = isfinite(output).all().item<bool>() && isfinite(relevance).all().item<bool>() && isfinite(reference).all().item<bool>();
        double scale = Math.Max(reference.abs().max().item<float>(), 1e-30);
        double difference = finite ? (relevance - reference).abs().max().item<float>() / scale : double.NaN;
        return new KernelCheck(name, batch, finite, difference, Tolerance);
    }

    // The raw result: the point is to see a non-finite value, which Attribute itself would refuse.
    private static (Tensor Output, Tensor Relevance) Attribute(Attributor attributor, Tensor input, AttributionTarget target)
    {
        attributor.RequireFinite = false;
        using AttributionResult result = attributor.Attribute(input, target);
        return (result.Output.clone(), result.Relevance.clone());
    }

    private static ResNet Model()
    {
        manual_seed(11);
        var model = new ResNet(ResNetBlockKind.Bottleneck, new long[] { 1, 1, 1, 1 }, numClasses: 4, widthPerGroup: 16);
        using (no_grad())
        {
            foreach (var module in model.modules())
            {
                if (module is BatchNorm2d norm)
                {
                    norm.weight!.uniform_(0.5, 1.5);
                    norm.bias!.uniform_(-0.5, 0.5);
                    norm.running_mean!.uniform_(-0.5, 0.5);
                    norm.running_var!.uniform_(0.5, 2.0);
                }
            }
        }
        model.eval();
        return model;
    }
}
