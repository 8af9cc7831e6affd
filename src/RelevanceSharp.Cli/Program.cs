using RelevanceSharp.Cli;
using RelevanceSharp.Core;

// The tool's work is attribution: keep the native memory of freed tensors for reuse instead of paying page faults
// for it on every call (see NativeAllocator; no effect outside glibc).
NativeAllocator.KeepFreedMemory();
return Cli.Invoke(args, Console.Out, Console.Error);
