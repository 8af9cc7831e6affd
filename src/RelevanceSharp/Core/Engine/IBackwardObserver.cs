using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>Sees each rule step of a backward pass: the module, the relevance reaching its output and what it passes on.</summary>
internal interface IBackwardObserver
{
    void Observe(nn.Module module, Tensor gradOutput, Tensor gradInput);
}
