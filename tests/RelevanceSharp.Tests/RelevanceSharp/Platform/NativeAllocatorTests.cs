using RelevanceSharp.Platform;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

/// <summary>Once told to, glibc keeps the memory of freed tensors in the process for reuse.</summary>
public class NativeAllocatorTests
{
    private static long ResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    [SkippableFact]
    public void FreedTensorMemoryStaysInTheProcess()
    {
        Skip.IfNot(File.Exists("/proc/self/status"), "the setting and the memory figures are Linux's");
        Assert.True(NativeAllocator.KeepFreedMemory(), "glibc's mallopt was not available");
        Assert.True(NativeAllocator.KeepsFreedMemory);
        Assert.True(NativeAllocator.KeepFreedMemory(), "a second call must report the settings in effect");
        // 48 MB, filled: above glibc's largest mmap threshold (32 MB), so with its default settings the block is a
        // mapping of its own that goes back to the system when the tensor is freed, and resident memory drops. (Below
        // 64 MB, so that a thread other than the main one, as here, serves it from its own arena's heap too.)
        Tensor block = zeros(12L << 20);
        long allocated = ResidentBytes();
        block.Dispose();
        long freed = ResidentBytes();
        Assert.True(allocated - freed < 16L << 20,
            $"resident memory fell by {(allocated - freed) >> 20} MB when a 48 MB tensor was freed; it should stay in the process");
    }
}
