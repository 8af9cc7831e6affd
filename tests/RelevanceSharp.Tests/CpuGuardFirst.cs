using System.Runtime.CompilerServices;
using RelevanceSharp.Platform;

namespace RelevanceSharp.Tests;

/// <summary>
/// Applies the CPU guard when the test assembly loads, before any test can run a convolution through TorchSharp
/// alone: oneDNN reads its instruction-set cap once, at its first use, so a test that touched no RelevanceSharp type
/// before its first convolution would leave the whole run unguarded on a processor without cache topology.
/// </summary>
internal static class CpuGuardFirst
{
    [ModuleInitializer]
    internal static void Apply() => CpuGuard.Ensure();
}
