using TorchSharp;
using TorchSharp.Modules;
using RelevanceSharp.Layers;

namespace RelevanceSharp.Core;

/// <summary>A named predicate on modules, used by composites to assign rules by layer type.</summary>
public sealed class ModuleMatcher
{
    private readonly Func<torch.nn.Module, bool> predicate;

    /// <summary>Creates a matcher.</summary>
    public ModuleMatcher(string name, Func<torch.nn.Module, bool> predicate)
    {
        Name = name;
        this.predicate = predicate;
    }

    /// <summary>The display name.</summary>
    public string Name { get; }

    /// <summary>Whether the module is of this kind.</summary>
    public bool Matches(torch.nn.Module module) => predicate(module);

    /// <summary>Matches instances of <typeparamref name="T"/> (and subclasses).</summary>
    public static ModuleMatcher Of<T>() where T : torch.nn.Module => new(typeof(T).Name, m => m is T);

    /// <summary>Matches any of several kinds.</summary>
    public static ModuleMatcher AnyOf(string name, params ModuleMatcher[] matchers) =>
        new(name, m => matchers.Any(x => x.Matches(m)));

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>The layer kinds composites match on (zennit's <c>types</c>).</summary>
public static class LayerTypes
{
    /// <summary>Conv1d, Conv2d, Conv3d.</summary>
    public static ModuleMatcher ConvolutionStandard { get; } =
        new("ConvolutionStandard", m => m is TorchSharp.Modules.Convolution and not TorchSharp.Modules.ConvolutionTranspose);

    /// <summary>ConvTranspose1d, ConvTranspose2d, ConvTranspose3d.</summary>
    public static ModuleMatcher ConvolutionTranspose { get; } =
        new("ConvolutionTranspose", m => m is TorchSharp.Modules.ConvolutionTranspose);

    /// <summary>Every convolution, standard or transposed.</summary>
    public static ModuleMatcher Convolution { get; } = new("Convolution", m => m is TorchSharp.Modules.Convolution);

    /// <summary>The dense layer <c>torch.nn.Linear</c> only.</summary>
    public static ModuleMatcher Dense { get; } = new("Dense", m => m is TorchSharp.Modules.Linear);

    /// <summary>Every linear layer: dense layers and all convolutions (zennit's <c>Linear</c>).</summary>
    public static ModuleMatcher Linear { get; } = new("Linear", m => m is TorchSharp.Modules.Linear or TorchSharp.Modules.Convolution);

    /// <summary>BatchNorm1d, BatchNorm2d, BatchNorm3d.</summary>
    public static ModuleMatcher BatchNorm { get; } = new("BatchNorm", m => m is TorchSharp.Modules.BatchNorm);

    /// <summary>Average pools, including adaptive ones.</summary>
    public static ModuleMatcher AvgPool { get; } = new("AvgPool", m => m is AvgPool1d or AvgPool2d or AvgPool3d
        or AdaptiveAvgPool1d or AdaptiveAvgPool2d or AdaptiveAvgPool3d);

    /// <summary>Max pools, including adaptive ones.</summary>
    public static ModuleMatcher MaxPool { get; } = new("MaxPool", m => m is MaxPool1d or MaxPool2d or MaxPool3d
        or AdaptiveMaxPool1d or AdaptiveMaxPool2d or AdaptiveMaxPool3d);

    /// <summary>The ReLU module.</summary>
    public static ModuleMatcher ReLU { get; } = new("ReLU", m => m is TorchSharp.Modules.ReLU);

    /// <summary>Every element-wise activation module TorchSharp offers, and modules marked <see cref="IElementwise"/>.</summary>
    public static ModuleMatcher Activation { get; } = new("Activation", m => m is ELU or Hardshrink or Hardsigmoid
        or Hardtanh or Hardswish or LeakyReLU or LogSigmoid or PReLU or TorchSharp.Modules.ReLU or ReLU6 or RReLU or SELU
        or CELU or GELU or Sigmoid or SiLU or Softplus or Softshrink or Softsign or Tanh or Tanhshrink or Threshold or Mish
        or IElementwise);

    /// <summary>The modules used for residual additions: <see cref="Layers.Sum"/> and <see cref="Layers.Add"/>.</summary>
    public static ModuleMatcher Sum { get; } = new("Sum", m => m is Layers.Sum or Layers.Add);

    /// <summary>Products of computed tensors: modules implementing <see cref="IProduct"/> (<see cref="MatMul"/>, <see cref="Multiply"/>).</summary>
    public static ModuleMatcher Product { get; } = new("Product", m => m is IProduct);

    /// <summary>Products whose module names a gate (<see cref="IProduct.Gate"/>): attention weights times values, gated MLPs.</summary>
    public static ModuleMatcher GatedProduct { get; } = new("GatedProduct", m => m is IProduct { Gate: not null });

    /// <summary>The softmax module.</summary>
    public static ModuleMatcher Softmax { get; } = new("Softmax", m => m is TorchSharp.Modules.Softmax);

    /// <summary>The layer norm module.</summary>
    public static ModuleMatcher LayerNorm { get; } = new("LayerNorm", m => m is TorchSharp.Modules.LayerNorm);

    /// <summary>The root-mean-square norm of LLaMA-family models (<see cref="RMSNorm"/>).</summary>
    public static ModuleMatcher RMSNorm { get; } = new("RMSNorm", m => m is RMSNorm);

    /// <summary>Parameter-free linear maps without offset (<see cref="ILinearOperation"/>: rotary embeddings, rescalings).</summary>
    public static ModuleMatcher LinearOperation { get; } = new("LinearOperation", m => m is ILinearOperation);

    /// <summary>Looks a kind up by name (case-insensitive).</summary>
    public static ModuleMatcher? Find(string name) => All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>All predefined kinds.</summary>
    public static IReadOnlyList<ModuleMatcher> All { get; } = new[]
    {
        ConvolutionStandard, ConvolutionTranspose, Convolution, Dense, Linear, BatchNorm, AvgPool, MaxPool, ReLU, Activation, Sum,
        Product, GatedProduct, Softmax, LayerNorm, RMSNorm, LinearOperation,
    };
}
