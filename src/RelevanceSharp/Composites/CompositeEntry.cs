using System.Text.Json;
using RelevanceSharp.Canonizers;
using static TorchSharp.torch;

namespace RelevanceSharp.Composites;

/// <summary>A named composite: its arguments and how to build it.</summary>
public sealed record CompositeEntry(
    string Name,
    string Description,
    IReadOnlyList<ArgumentSpec> Arguments,
    Func<ArgumentReader, IReadOnlyList<ICanonizer>, Composite> Create);
