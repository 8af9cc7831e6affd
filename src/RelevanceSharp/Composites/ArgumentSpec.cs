using System.Text.Json;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Core;
using static TorchSharp.torch;

namespace RelevanceSharp.Composites;

/// <summary>One argument a named composite (or canonizer) accepts.</summary>
public sealed record ArgumentSpec(string Name, string Type, string? Default, string Description);
