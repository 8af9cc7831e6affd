using RelevanceSharp.Cli;
using RelevanceSharp.Core;
using RelevanceSharp.Platform;

// The tool's work is attribution: keep the native memory of freed tensors for reuse instead of paying page faults
// for it on every call (see NativeAllocator; no effect outside glibc).
NativeAllocator.KeepFreedMemory();
// Before any tensor work: route libtorch around kernels that crash or return NaN on this processor, and say so once.
if (CpuGuard.Ensure().Notice is { } notice)
{
    Console.Error.WriteLine(notice);
}
return Cli.Invoke(args, Console.Out, Console.Error);
