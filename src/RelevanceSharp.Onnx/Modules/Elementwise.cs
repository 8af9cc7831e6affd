using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Onnx.Modules;

/// <summary>The element-wise functions <see cref="Elementwise"/> computes.</summary>
public enum ElementwiseOperation
{
    /// <summary><c>x + c</c> (ONNX <c>Add</c> with a constant).</summary>
    AddConstant,

    /// <summary><c>x - c</c>.</summary>
    SubtractConstant,

    /// <summary><c>c - x</c>.</summary>
    SubtractFromConstant,

    /// <summary><c>x * c</c>.</summary>
    MultiplyConstant,

    /// <summary><c>x / c</c>.</summary>
    DivideByConstant,

    /// <summary><c>c / x</c>.</summary>
    DivideConstant,

    /// <summary><c>x ^ c</c> (ONNX <c>Pow</c> with a constant exponent).</summary>
    Power,

    /// <summary><c>x</c> where <c>x &gt;= 0</c>, else <c>c * x</c> (ONNX <c>PRelu</c> with a slope of any broadcastable shape).</summary>
    PRelu,

    /// <summary><c>-x</c>.</summary>
    Negate,

    /// <summary><c>1 / x</c>.</summary>
    Reciprocal,

    /// <summary><c>|x|</c>.</summary>
    Abs,

    /// <summary><c>sqrt(x)</c>.</summary>
    Sqrt,

    /// <summary><c>exp(x)</c>.</summary>
    Exp,

    /// <summary>The error function.</summary>
    Erf,

    /// <summary><c>max(0, min(1, alpha * x + beta))</c>.</summary>
    HardSigmoid,

    /// <summary><c>min(max(x, low), high)</c>, either bound optional.</summary>
    Clip,
}

/// <summary>
/// An element-wise function of one computed tensor, possibly with a constant operand (held as a buffer, so that it
/// follows the model's type and device): the arithmetic with constants that exporters emit (input normalization,
/// the multiply and add of an unfused batch norm, the scaling of attention scores), and the element-wise functions
/// TorchSharp has no module for.
/// <para>
/// In relevance terms every one of them is an element-wise map (<see cref="Layers.IElementwise"/>): each output element
/// depends on the input element at its position only. The named composites give them <c>Pass</c>, which hands the
/// relevance of each output element to its input element unchanged, as they do for batch norms (an affine map per
/// element) and activations. For the constant multiplications this equals input times gradient
/// (<c>x * c * R / (c * x) = R</c>), the rule of a parameter-free linear map. When the constant broadcasts the input to
/// a larger shape, the importer expands the input first (an <see cref="Expand"/> module), so that the map stays
/// element-wise.
/// </para>
/// </summary>
public sealed class Elementwise : nn.Module<Tensor, Tensor>, Layers.IElementwise
{
    private const string ConstantName = "constant";

    /// <summary>Creates the module.</summary>
    /// <param name="operation">The function.</param>
    /// <param name="constant">The constant operand of the operations that take one.</param>
    /// <param name="alpha">The slope of <see cref="ElementwiseOperation.HardSigmoid"/>; the lower bound of <see cref="ElementwiseOperation.Clip"/>.</param>
    /// <param name="beta">The offset of <see cref="ElementwiseOperation.HardSigmoid"/>; the upper bound of <see cref="ElementwiseOperation.Clip"/>.</param>
    public Elementwise(ElementwiseOperation operation, Tensor? constant = null, double? alpha = null, double? beta = null)
        : base(operation.ToString())
    {
        Operation = operation;
        Alpha = alpha;
        Beta = beta;
        bool needs = operation is ElementwiseOperation.AddConstant or ElementwiseOperation.SubtractConstant
            or ElementwiseOperation.SubtractFromConstant or ElementwiseOperation.MultiplyConstant or ElementwiseOperation.DivideByConstant
            or ElementwiseOperation.DivideConstant or ElementwiseOperation.Power or ElementwiseOperation.PRelu;
        if (needs != constant is not null)
        {
            throw new ArgumentException($"{operation} {(needs ? "needs" : "takes no")} constant operand.");
        }
        if (constant is not null)
        {
            register_buffer(ConstantName, constant.detach().clone());
        }
        if (operation == ElementwiseOperation.HardSigmoid && (alpha is null || beta is null))
        {
            throw new ArgumentException("HardSigmoid needs alpha and beta.");
        }
    }

    /// <summary>The function.</summary>
    public ElementwiseOperation Operation { get; }

    /// <summary>HardSigmoid's slope, or Clip's lower bound.</summary>
    public double? Alpha { get; }

    /// <summary>HardSigmoid's offset, or Clip's upper bound.</summary>
    public double? Beta { get; }

    /// <summary>The constant operand, if the operation has one.</summary>
    public Tensor? Constant => named_buffers(recurse: false).Where(b => b.name == ConstantName).Select(b => b.buffer).FirstOrDefault();

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor c = Constant!;
        return Operation switch
        {
            ElementwiseOperation.AddConstant => input.add(c, Scalars.One),
            ElementwiseOperation.SubtractConstant => input - c,
            ElementwiseOperation.SubtractFromConstant => c - input,
            ElementwiseOperation.MultiplyConstant => input * c,
            ElementwiseOperation.DivideByConstant => input / c,
            ElementwiseOperation.DivideConstant => c / input,
            ElementwiseOperation.Power => input.pow(c),
            ElementwiseOperation.PRelu => where(input >= Scalars.Of(0), input, input * c),
            ElementwiseOperation.Negate => input.neg(),
            ElementwiseOperation.Reciprocal => input.reciprocal(),
            ElementwiseOperation.Abs => input.abs(),
            ElementwiseOperation.Sqrt => input.sqrt(),
            ElementwiseOperation.Exp => input.exp(),
            ElementwiseOperation.Erf => input.erf(),
            ElementwiseOperation.HardSigmoid => (input.mul(Scalars.Of(Alpha!.Value)).add(Scalars.Of(Beta!.Value), Scalars.One)).clamp(Scalars.Of(0.0), Scalars.Of(1.0)),
            ElementwiseOperation.Clip => Clip(input),
            _ => throw new InvalidOperationException($"Unknown operation {Operation}."),
        };
    }

    private Tensor Clip(Tensor input)
    {
        Tensor result = Alpha is { } low ? input.clamp_min(Scalars.Of(low)) : input;
        return Beta is { } high ? result.clamp_max(Scalars.Of(high)) : Alpha is null ? result.clone() : result;
    }
}

/// <summary>The linear reductions <see cref="Reduce"/> computes.</summary>
public enum ReduceOperation
{
    /// <summary>The mean.</summary>
    Mean,

    /// <summary>The sum.</summary>
    Sum,
}

/// <summary>
/// ONNX <c>ReduceMean</c> and <c>ReduceSum</c> over some axes: a parameter-free linear map
/// (<see cref="Layers.ILinearOperation"/>), in relevance terms an average pool or a sum of branches; the named composites
/// give it <c>Norm</c>, which splits the relevance among the inputs in proportion to their values.
/// </summary>
public sealed class Reduce : nn.Module<Tensor, Tensor>, Layers.ILinearOperation
{
    /// <summary>Creates the module.</summary>
    /// <param name="operation">The reduction.</param>
    /// <param name="axes">The (non-negative) axes reduced; empty for all.</param>
    /// <param name="keepDims">Whether reduced axes stay as dimensions of size 1.</param>
    public Reduce(ReduceOperation operation, long[] axes, bool keepDims) : base("Reduce" + operation)
    {
        Operation = operation;
        Axes = axes.Distinct().Order().ToArray();
        KeepDims = keepDims;
    }

    /// <summary>The reduction.</summary>
    public ReduceOperation Operation { get; }

    /// <summary>The reduced axes; empty for all.</summary>
    public long[] Axes { get; }

    /// <summary>Whether reduced axes stay.</summary>
    public bool KeepDims { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        long[] axes = ReduceMax.AxesOf(Axes, input);
        return Operation == ReduceOperation.Mean ? input.mean(axes, KeepDims) : input.sum(axes, KeepDims);
    }
}

/// <summary>
/// ONNX <c>ReduceMax</c> over some axes: in relevance terms a max pool, which composites leave to the gradient (the
/// relevance goes to the maximal element; ties split it evenly).
/// </summary>
public sealed class ReduceMax : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    /// <param name="axes">The (non-negative) axes reduced; empty for all.</param>
    /// <param name="keepDims">Whether reduced axes stay as dimensions of size 1.</param>
    public ReduceMax(long[] axes, bool keepDims) : base("ReduceMax")
    {
        Axes = axes.Distinct().Order().ToArray();
        KeepDims = keepDims;
    }

    /// <summary>The reduced axes; empty for all.</summary>
    public long[] Axes { get; }

    /// <summary>Whether reduced axes stay.</summary>
    public bool KeepDims { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.amax(AxesOf(Axes, input), KeepDims);

    /// <summary>The axes reduced: those given, or all when none are.</summary>
    internal static long[] AxesOf(long[] axes, Tensor input) =>
        axes.Length == 0 ? Enumerable.Range(0, (int)input.dim()).Select(i => (long)i).ToArray() : axes;
}
