using System.Runtime.CompilerServices;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>The parameters rules see for a layer, including biases replaced by canonizers.</summary>
public static class LayerParameters
{
    private static readonly ConditionalWeakTable<nn.Module, BiasOverride> Overrides = new();

    /// <summary>The bias override of a module, if a canonizer installed one.</summary>
    public static BiasOverride? GetBiasOverride(nn.Module module) =>
        Overrides.TryGetValue(module, out BiasOverride? value) ? value : null;

    /// <summary>Installs (or, with <c>null</c>, removes) the bias override of a module.</summary>
    public static void SetBiasOverride(nn.Module module, BiasOverride? value)
    {
        Overrides.Remove(module);
        if (value is not null)
        {
            Overrides.Add(module, value);
        }
    }

    /// <summary>
    /// The parameter slots of a module as rules see them: <c>weight</c> and <c>bias</c> for linear layers,
    /// convolutions and batch norms (the bias replaced by a canonizer's override where there is one), the module's
    /// own direct parameters otherwise.
    /// </summary>
    public static IReadOnlyDictionary<string, Tensor?> Effective(nn.Module module, long[] inputShape)
    {
        var result = new Dictionary<string, Tensor?>();
        switch (module)
        {
            case IFunctionalLayer functional:
                foreach (var (name, value) in functional.GetParameters())
                {
                    result[name] = value;
                }
                break;
            case Linear linear:
                result["weight"] = linear.weight;
                result["bias"] = linear.bias;
                break;
            case Convolution convolution:
                result["weight"] = convolution.weight;
                result["bias"] = convolution.bias;
                break;
            case BatchNorm batchNorm:
                result["weight"] = batchNorm.weight;
                result["bias"] = batchNorm.bias;
                break;
            default:
                foreach (var (name, parameter) in module.named_parameters(recurse: false))
                {
                    result[name] = parameter;
                }
                break;
        }
        BiasOverride? bias = GetBiasOverride(module);
        if (bias is not null)
        {
            result["bias"] = bias.Resolve(inputShape);
        }
        return result;
    }
}
