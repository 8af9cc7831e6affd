using static TorchSharp.torch;

namespace RelevanceSharp.Onnx.Building;

/// <summary>
/// One module call of the imported model's forward pass: the module, the run-time slots it reads (only values
/// computed from the input; constants live inside the modules) and the slot it writes.
/// </summary>
internal sealed class Step
{
    public Step(string name, string node, nn.Module module, int[] inputs, int output)
    {
        Name = name;
        Node = node;
        Module = module;
        Inputs = inputs;
        Output = output;
        if (inputs.Length == 1 && module is not nn.Module<Tensor, Tensor>
            || inputs.Length == 2 && module is not (nn.Module<Tensor, Tensor, Tensor> or nn.Module<Tensor[], Tensor>)
            || inputs.Length > 2 && module is not nn.Module<Tensor[], Tensor>
            || inputs.Length == 0)
        {
            throw new InvalidOperationException($"Module {module.GetType().Name} cannot take {inputs.Length} inputs.");
        }
    }

    /// <summary>The module's name in the model.</summary>
    public string Name { get; }

    /// <summary>The name of the ONNX node the module computes (part of).</summary>
    public string Node { get; }

    /// <summary>The module.</summary>
    public nn.Module Module { get; }

    /// <summary>The slots of its inputs.</summary>
    public int[] Inputs { get; }

    /// <summary>The slot of its output.</summary>
    public int Output { get; }

    /// <summary>
    /// Runs the module on <paramref name="args"/>: through its hooks (<c>call</c>), so that rules and canonizers see it,
    /// or, with <paramref name="plain"/>, as a plain function that no hook sees.
    /// </summary>
    public Tensor Run(Tensor[] args, bool plain) => Module switch
    {
        nn.Module<Tensor, Tensor> one => plain ? one.forward(args[0]) : one.call(args[0]),
        nn.Module<Tensor, Tensor, Tensor> two => plain ? two.forward(args[0], args[1]) : two.call(args[0], args[1]),
        nn.Module<Tensor[], Tensor> many => plain ? many.forward(args) : many.call(args),
        _ => throw new InvalidOperationException($"Module {Module.GetType().Name} has no supported form."),
    };
}
