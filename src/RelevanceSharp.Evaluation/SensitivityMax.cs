using RelevanceSharp.Attribution;
using RelevanceSharp.Platform;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Evaluation;

/// <summary>Settings of <see cref="SensitivityMax"/>.</summary>
public sealed record SensitivitySettings
{
    /// <summary>Perturbed inputs per image (Captum's <c>n_perturb_samples</c>, whose default this is).</summary>
    public int Samples { get; init; } = 10;

    /// <summary>
    /// Radius of the L-infinity ball the perturbed inputs are drawn from, in the units of the model's input (Captum's
    /// <c>perturb_radius</c>, whose default this is).
    /// </summary>
    public double Radius { get; init; } = 0.02;

    /// <summary>Seed of the perturbations; image <c>i</c> draws its own from it and <c>i</c>.</summary>
    public long Seed { get; init; }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (Samples < 1)
        {
            throw new ArgumentException($"Sensitivity needs at least one perturbed input per image; got {Samples}.");
        }
        if (!double.IsFinite(Radius) || Radius <= 0)
        {
            throw new ArgumentException($"The sensitivity radius must be a positive number; got {Radius}.");
        }
    }
}

/// <summary>
/// Max-sensitivity (Yeh et al. 2019; Captum's <c>captum.metrics.sensitivity_max</c> with its default perturbation and
/// norm): how much the attribution changes, at most, when the input moves a little. Lower is better (more robust).
/// </summary>
/// <remarks>
/// <para>
/// For an image <c>x</c> with attribution <c>a(x)</c>, each of the <c>n</c> perturbations adds noise drawn uniformly from
/// <c>[-r, r]</c> to every element (a point of the L-infinity ball of radius <c>r</c>), the attribution is computed again
/// for the same target, and <c>sensitivity = max_k ||a(x + e_k) - a(x)|| / ||a(x)||</c>, with the Frobenius norm over
/// all elements and <c>||a(x)||</c> taken as 1 when it is zero, as Captum does.
/// </para>
/// <para>
/// Image <c>i</c>'s perturbations come from a generator seeded with the seed and <c>i</c>, so every attribution of the
/// same images is measured at the same perturbed inputs. A seeded random method (SmoothGrad, Gradient SHAP) draws the
/// same noise at the perturbed input as at the input, so the measure sees the method's response to the input, not its
/// sampling noise.
/// </para>
/// </remarks>
public static class SensitivityMax
{
    // The CPU guard must be in force before this type runs its first convolution.
    static SensitivityMax() => CpuGuard.Ensure();

    /// <summary>The max-sensitivity of each image's attribution.</summary>
    /// <param name="attribute">Attributes a batch of inputs for the given targets (each image's own class); its result must be shaped like its input.</param>
    /// <param name="inputs">The images, <c>(N, ...)</c>.</param>
    /// <param name="attributions">Their attributions, <c>a(x)</c>.</param>
    /// <param name="targets">The class each image is explained for.</param>
    /// <param name="settings">Samples, radius, seed.</param>
    /// <param name="firstImage">The index of the first image among all images evaluated, for the seeds.</param>
    public static double[] Compute(Func<Tensor, IReadOnlyList<long>, Tensor> attribute, Tensor inputs, Tensor attributions, IReadOnlyList<long> targets,
        SensitivitySettings? settings = null, int firstImage = 0)
    {
        ArgumentNullException.ThrowIfNull(attribute);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(attributions);
        ArgumentNullException.ThrowIfNull(targets);
        settings ??= new SensitivitySettings();
        settings.Validate();
        int images = (int)inputs.shape[0];
        Infidelity.CheckShapes(inputs, attributions, targets, images);
        using var scope = NewDisposeScope();
        Tensor reference = attributions.detach().to(ScalarType.Float64).reshape(images, -1);
        Tensor norms = reference.norm(1, keepdim: false, p: 2);
        norms = where(norms == Scalars.Of(0), ones_like(norms), norms);
        var generators = Enumerable.Range(0, images)
            .Select(i => new Generator(Seeds.Derive(settings.Seed, Seeds.Hash("sensitivity"), firstImage + i), inputs.device))
            .ToList();
        try
        {
            var result = new double[images];
            Array.Fill(result, double.NegativeInfinity);
            long[] one = [1, .. inputs.shape.Skip(1)];
            for (int k = 0; k < settings.Samples; k++)
            {
                using var sample = NewDisposeScope();
                // Each image's k-th perturbation from its own generator: the same whatever the batch.
                Tensor noise = cat(generators.Select(g => rand(one, dtype: inputs.dtype, device: inputs.device, generator: g)).ToList(), 0);
                Tensor perturbed = inputs.add(noise.mul(Scalars.Of(2.0)).sub(Scalars.One).mul(Scalars.Of(settings.Radius)), Scalars.One);
                Tensor changed = attribute(perturbed, targets).detach().to(ScalarType.Float64).reshape(images, -1);
                double[] ratio = ((changed - reference).norm(1, keepdim: false, p: 2) / norms).data<double>().ToArray();
                for (int i = 0; i < images; i++)
                {
                    result[i] = Math.Max(result[i], ratio[i]);
                }
            }
            return result;
        }
        finally
        {
            generators.ForEach(g => g.Dispose());
        }
    }

    /// <summary>The attribution function of an attributor: each image explained for its class (<see cref="Attributor.ClassTarget"/>).</summary>
    public static Func<Tensor, IReadOnlyList<long>, Tensor> Of(Attributor attributor)
    {
        ArgumentNullException.ThrowIfNull(attributor);
        return (inputs, targets) =>
        {
            using AttributionResult result = attributor.Attribute(inputs, attributor.ClassTarget(targets));
            return result.Relevance.clone();
        };
    }
}
