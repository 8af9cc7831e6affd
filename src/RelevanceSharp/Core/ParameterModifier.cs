using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// How one term of a rule changes a layer's parameters, as zennit's <c>ParamMod</c>: a function of
/// (parameter, name) applied to the parameters named in <see cref="ParameterNames"/> (all of the layer's
/// parameters when <c>null</c>, none when empty), the parameters in <see cref="ZeroParameters"/> replaced by zeros,
/// and, with <see cref="RequireParameters"/>, an error when a named parameter does not exist on the layer.
/// The layer itself is never changed: the modified parameters are handed to a functional recomputation.
/// </summary>
public sealed record ParameterModifier(
    Func<Tensor, string, Tensor> Modify,
    IReadOnlyList<string>? ParameterNames = null,
    IReadOnlyList<string>? ZeroParameters = null,
    bool RequireParameters = true)
{
    /// <summary>
    /// Whether <see cref="Modify"/> returns every parameter unchanged (only zeroing may change values). Set by the
    /// factories that guarantee it; lets rules reuse the layer's own forward pass.
    /// </summary>
    public bool KeepsValues { get; init; }

    /// <summary>Leaves every parameter as it is.</summary>
    public static ParameterModifier Identity { get; } = new((p, _) => p) { KeepsValues = true };

    /// <summary>Leaves parameters unchanged but zeroes the named ones.</summary>
    public static ParameterModifier Unmodified(IReadOnlyList<string>? zeroParameters = null) =>
        new((p, _) => p, ZeroParameters: zeroParameters) { KeepsValues = true };

    /// <summary>Whether the modifier zeroes the named parameter.</summary>
    public bool Zeroes(string name) => ZeroParameters is not null && ZeroParameters.Contains(name);

    /// <summary>The modified value of one parameter (<c>null</c> stays <c>null</c>).</summary>
    public Tensor? ModifyOne(string name, Tensor? value)
    {
        if (value is null)
        {
            return null;
        }
        if (Zeroes(name))
        {
            return zeros_like(value);
        }
        return ParameterNames is null || ParameterNames.Contains(name) ? Modify(value, name) : value;
    }

    /// <summary>Clamps parameters to [min, max] (either bound optional).</summary>
    public static ParameterModifier Clamp(double? min = null, double? max = null, IReadOnlyList<string>? zeroParameters = null) =>
        new((p, _) => ClampTensor(p, min, max), ZeroParameters: zeroParameters);

    /// <summary>Adds <c>gamma</c> times the clamped parameters to the parameters (zennit's <c>GammaMod</c>).</summary>
    public static ParameterModifier Gamma(double gamma, double? min = null, double? max = null, IReadOnlyList<string>? zeroParameters = null) =>
        new((p, _) => p.add(ClampTensor(p, min, max).mul(Scalars.Of(gamma)), Scalars.One), ZeroParameters: zeroParameters);

    /// <summary>Adds <c>"bias"</c> to a list of parameters to zero.</summary>
    public static IReadOnlyList<string> WithBias(IReadOnlyList<string>? zeroParameters)
    {
        if (zeroParameters is null)
        {
            return new[] { "bias" };
        }
        return zeroParameters.Contains("bias") ? zeroParameters : zeroParameters.Append("bias").ToArray();
    }

    /// <summary>
    /// Computes the modified parameters of a layer from its effective parameters (see <see cref="LayerParameters"/>).
    /// Parameters that the layer lacks (present as a slot but <c>null</c>) stay absent.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor?> Apply(nn.Module module, IReadOnlyDictionary<string, Tensor?> effective)
    {
        IEnumerable<string> keys = ParameterNames ?? effective.Keys;
        var missing = keys.Where(k => !effective.ContainsKey(k)).ToList();
        if (RequireParameters && missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"A rule needs the parameter(s) '{string.Join("', '", missing)}', which {module.Describe()} does not have.");
        }
        var result = new Dictionary<string, Tensor?>(effective);
        foreach (string key in keys)
        {
            if (!effective.TryGetValue(key, out Tensor? value) || value is null)
            {
                continue;
            }
            bool zero = ZeroParameters is not null && ZeroParameters.Contains(key);
            result[key] = zero ? zeros_like(value) : Modify(value, key);
        }
        return result;
    }

    internal static Tensor ClampTensor(Tensor tensor, double? min, double? max)
    {
        if (min.HasValue && max.HasValue)
        {
            return tensor.clamp(Scalars.Of(min.Value), Scalars.Of(max.Value));
        }
        if (min.HasValue)
        {
            return tensor.clamp_min(Scalars.Of(min.Value));
        }
        return max.HasValue ? tensor.clamp_max(Scalars.Of(max.Value)) : tensor.alias();
    }
}
