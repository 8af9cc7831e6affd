using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// Sees each rule step of a backward pass: the module and its rule, the inputs of the call, the relevance reaching its
/// output and what it passes on to each input (one entry per input; a module with one input has one).
/// </summary>
internal interface IBackwardObserver
{
    void Observe(nn.Module module, Rule rule, IReadOnlyList<Tensor> inputs, Tensor gradOutput, IReadOnlyList<Tensor> gradInputs);
}
