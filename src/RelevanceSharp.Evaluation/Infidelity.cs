using RelevanceSharp.Platform;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Evaluation;

/// <summary>Settings of <see cref="Infidelity"/>.</summary>
public sealed record InfidelitySettings
{
    /// <summary>Perturbations per image (Captum's <c>n_perturb_samples</c>, whose default this is).</summary>
    public int Samples { get; init; } = 10;

    /// <summary>
    /// Standard deviation of the Gaussian perturbation <c>I</c>, in the units of the model's input (after normalization);
    /// the perturbed input is <c>x - I</c>.
    /// </summary>
    public double NoiseScale { get; init; } = 0.1;

    /// <summary>
    /// Whether the attribution is scaled by the factor <c>beta</c> that fits it best first (Captum's <c>normalize</c>):
    /// infidelity then measures the shape of an attribution, not its units, and attributions of different methods
    /// compare. On by default.
    /// </summary>
    public bool Normalize { get; init; } = true;

    /// <summary>Seed of the perturbations; image <c>i</c> draws its own from it and <c>i</c>.</summary>
    public long Seed { get; init; }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (Samples < 1)
        {
            throw new ArgumentException($"Infidelity needs at least one perturbation per image; got {Samples}.");
        }
        if (!double.IsFinite(NoiseScale) || NoiseScale <= 0)
        {
            throw new ArgumentException($"The infidelity noise must be a positive number; got {NoiseScale}.");
        }
    }
}

/// <summary>
/// Explanation infidelity (Yeh et al. 2019; Captum's <c>captum.metrics.infidelity</c>): how far the attribution, dotted
/// with a perturbation, is from the change of the target score that perturbation causes. Lower is better.
/// </summary>
/// <remarks>
/// <para>
/// For an image <c>x</c> with attribution <c>a</c> and target score <c>f</c> (the target class's logit), each of the
/// <c>n</c> perturbations draws <c>I_k</c> with independent Gaussian elements of standard deviation
/// <see cref="InfidelitySettings.NoiseScale"/> and scores the perturbed input <c>x - I_k</c>:
/// <c>u_k = sum_j I_kj a_j</c> (the attribution dotted with the perturbation) and
/// <c>d_k = f(x) - f(x - I_k)</c> (what the perturbation removed from the score). Then
/// <c>infidelity = 1/n sum_k (beta u_k - d_k)^2</c>, with <c>beta = 1</c>, or with
/// <see cref="InfidelitySettings.Normalize"/> (the default) the least-squares fit <c>beta = sum_k u_k d_k / sum_k u_k^2</c>
/// (1 when every <c>u_k</c> is zero), which equals Captum's <c>normalize=True</c>:
/// <c>(beta^2 sum u^2 - 2 beta sum u d + sum d^2) / n</c>.
/// </para>
/// <para>
/// Image <c>i</c>'s perturbations come from a generator seeded with the seed and <c>i</c>, so every attribution of the
/// same images is measured under the same perturbations, whatever the batches. The model runs in inference mode.
/// </para>
/// </remarks>
public static class Infidelity
{
    // The CPU guard must be in force before this type runs its first convolution.
    static Infidelity() => CpuGuard.Ensure();

    /// <summary>The infidelity of each image's attribution.</summary>
    /// <param name="model">The classifier, in evaluation mode.</param>
    /// <param name="inputs">The images, <c>(N, ...)</c>, as the model takes them.</param>
    /// <param name="attributions">Their attributions, shaped like <paramref name="inputs"/>.</param>
    /// <param name="targets">The class each image is explained for.</param>
    /// <param name="settings">Samples, noise, normalization, seed.</param>
    /// <param name="firstImage">The index of the first image among all images evaluated, for the seeds.</param>
    public static double[] Compute(nn.Module<Tensor, Tensor> model, Tensor inputs, Tensor attributions, IReadOnlyList<long> targets,
        InfidelitySettings? settings = null, int firstImage = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(attributions);
        ArgumentNullException.ThrowIfNull(targets);
        settings ??= new InfidelitySettings();
        settings.Validate();
        int images = (int)inputs.shape[0];
        CheckShapes(inputs, attributions, targets, images);
        var result = new double[images];
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        Tensor clean = Scores(model, inputs, targets.ToArray());
        for (int i = 0; i < images; i++)
        {
            using var image = NewDisposeScope();
            Tensor x = inputs.narrow(0, i, 1);
            Tensor perturbation = Perturbations(x, settings.Samples, settings.NoiseScale, Seeds.Derive(settings.Seed, Seeds.Hash("infidelity"), firstImage + i));
            Tensor perturbed = x - perturbation;
            Tensor scores = Scores(model, perturbed, Enumerable.Repeat(targets[i], settings.Samples).ToArray());
            double[] u = Sum(perturbation * attributions.narrow(0, i, 1).to(perturbation.dtype));
            double[] d = (clean[i].to(ScalarType.Float64) - scores.to(ScalarType.Float64)).data<double>().ToArray();
            result[i] = Value(u, d, settings.Normalize);
        }
        return result;
    }

    /// <summary>
    /// The infidelity of one image from the attribution's dot products <paramref name="u"/> with the perturbations and the
    /// score changes <paramref name="d"/>: <c>1/n sum (beta u - d)^2</c>, <c>beta</c> the least-squares fit when
    /// <paramref name="normalize"/>, else 1.
    /// </summary>
    public static double Value(IReadOnlyList<double> u, IReadOnlyList<double> d, bool normalize)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(d);
        if (u.Count != d.Count || u.Count == 0)
        {
            throw new ArgumentException($"Need as many dot products as score changes, at least one; got {u.Count} and {d.Count}.");
        }
        double uu = 0, ud = 0, dd = 0;
        for (int k = 0; k < u.Count; k++)
        {
            uu += u[k] * u[k];
            ud += u[k] * d[k];
            dd += d[k] * d[k];
        }
        // Captum's safe_div: a zero denominator counts as one.
        double beta = normalize ? ud / (uu == 0 ? 1 : uu) : 1;
        return (beta * beta * uu - 2 * beta * ud + dd) / u.Count;
    }

    // n Gaussian perturbations of one image (1, ...) as (n, ...), from a seeded generator.
    private static Tensor Perturbations(Tensor x, int samples, double scale, ulong seed)
    {
        using var generator = new Generator(seed, x.device);
        long[] shape = [samples, .. x.shape.Skip(1)];
        return randn(shape, dtype: x.dtype, device: x.device, generator: generator).mul(Scalars.Of(scale));
    }

    // The target logit of each row.
    internal static Tensor Scores(nn.Module<Tensor, Tensor> model, Tensor inputs, long[] targets)
    {
        Tensor output = model.call(inputs);
        return output.gather(1, tensor(targets, device: output.device).unsqueeze(1)).squeeze(1);
    }

    // The sum over all but the first dimension, in double precision.
    private static double[] Sum(Tensor values)
    {
        long[] dims = Enumerable.Range(1, (int)values.dim() - 1).Select(d => (long)d).ToArray();
        Tensor sums = dims.Length == 0 ? values : values.to(ScalarType.Float64).sum(dims);
        return sums.to(ScalarType.Float64).cpu().data<double>().ToArray();
    }

    internal static void CheckShapes(Tensor inputs, Tensor attributions, IReadOnlyList<long> targets, int images)
    {
        if (!attributions.shape.SequenceEqual(inputs.shape))
        {
            throw new ArgumentException(
                $"The attributions have shape [{string.Join(", ", attributions.shape)}], the inputs [{string.Join(", ", inputs.shape)}].");
        }
        if (targets.Count != images)
        {
            throw new ArgumentException($"{targets.Count} targets were given for {images} images.");
        }
    }
}
