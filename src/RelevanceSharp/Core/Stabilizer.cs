using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// Keeps a denominator away from zero before a division. The default form adds <c>epsilon * sign(x)</c> with
/// <c>sign(0) = +1</c>; <see cref="Clip"/> instead raises the magnitude of every entry to at least epsilon, keeping
/// its sign; <see cref="NormScale"/> multiplies epsilon by the root mean square of <c>x</c> over every dimension but
/// the batch (or over <see cref="Dimensions"/>).
/// </summary>
public sealed class Stabilizer
{
    private readonly Func<Tensor, Tensor>? custom;

    /// <summary>The epsilon of <see cref="Default"/>, which the rules and named composites use unless given another.</summary>
    public const double DefaultEpsilon = 1e-6;

    /// <summary>Creates a stabilizer.</summary>
    public Stabilizer(double epsilon = DefaultEpsilon, bool clip = false, bool normScale = false, IReadOnlyList<long>? dimensions = null)
    {
        if (double.IsNaN(epsilon) || epsilon < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "The stabilizer epsilon must be a non-negative number.");
        }
        Epsilon = epsilon;
        Clip = clip;
        NormScale = normScale;
        Dimensions = dimensions;
    }

    private Stabilizer(Func<Tensor, Tensor> custom)
    {
        this.custom = custom;
    }

    /// <summary>The amount added to (or clipped at) each entry.</summary>
    public double Epsilon { get; }

    /// <summary>Whether entries are clipped to a magnitude of at least epsilon instead of shifted by it.</summary>
    public bool Clip { get; }

    /// <summary>Whether epsilon is scaled by the root mean square of the denominator.</summary>
    public bool NormScale { get; }

    /// <summary>The dimensions of the root mean square; <c>null</c> means all but the first.</summary>
    public IReadOnlyList<long>? Dimensions { get; }

    /// <summary>The default stabilizer, epsilon 1e-6.</summary>
    public static Stabilizer Default { get; } = new();

    /// <summary>
    /// The stabilizer of the steps that input times gradient computes exactly in AttnLRP and CP-LRP (residual and
    /// position-embedding additions, products, layer norms): epsilon 1e-9, which only guards exact zeros. The reference
    /// cases (LXT, which needs no division there) allow at most this much: a stabilizer of 1e-6 on the residual additions
    /// alone moves a ViT's relevance by about 5e-5 of its largest value.
    /// </summary>
    public static Stabilizer Exact { get; } = new(1e-9);

    /// <summary>A stabilizer that calls a function of the denominator.</summary>
    public static Stabilizer FromFunction(Func<Tensor, Tensor> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new Stabilizer(function);
    }

    /// <summary>A plain stabilizer with the given epsilon.</summary>
    public static implicit operator Stabilizer(double epsilon) => new(epsilon);

    /// <summary>Returns the stabilized copy of <paramref name="input"/>.</summary>
    public Tensor Apply(Tensor input)
    {
        if (custom is not null)
        {
            return custom(input);
        }
        using var scope = NewDisposeScope();
        // sign(sign(x) + 1/2) is +1 where x >= 0 and -1 elsewhere (sign(0) = +1), built in place on one new tensor:
        // fresh tensors cost more than the passes over them.
        Tensor sign = input.sign();
        sign.add_(Scalars.Of(0.5), Scalars.One).sign_();
        Tensor epsilon = NormScale ? RootMeanSquare(input).mul(Scalars.Of(Epsilon)) : tensor(Epsilon, input.dtype, input.device);
        // Shifted: input + sign * epsilon (exactly +epsilon or -epsilon added); clipped: sign * max(|input|, epsilon).
        Tensor result = Clip ? sign.mul_(input.abs().maximum(epsilon)) : sign.mul_(epsilon).add_(input, Scalars.One);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The constant this stabilizer adds to a denominator that is non-negative everywhere (and subtracts from one
    /// that is negative everywhere): epsilon for the plain form, <c>null</c> for the clipped, norm-scaled and custom
    /// forms, which depend on the values. Lets a rule fold the stabilizer into a layer's bias.
    /// </summary>
    public double? ConstantShift => custom is null && !Clip && !NormScale ? Epsilon : null;

    private Tensor RootMeanSquare(Tensor input)
    {
        long[] dims = Dimensions?.ToArray() ?? Enumerable.Range(1, (int)input.dim() - 1).Select(d => (long)d).ToArray();
        return dims.Length == 0 ? input.abs() : input.pow(Scalars.Of(2.0)).mean(dims, keepdim: true).sqrt();
    }

    /// <inheritdoc />
    public override string ToString() => custom is not null
        ? "Stabilizer(custom)"
        : $"Stabilizer(epsilon={Epsilon}{(Clip ? ", clip" : "")}{(NormScale ? ", norm_scale" : "")})";
}
