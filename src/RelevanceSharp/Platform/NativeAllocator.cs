using System.Runtime.InteropServices;

namespace RelevanceSharp.Platform;

/// <summary>
/// Settings of the C allocator that libtorch takes CPU tensor memory from. libtorch has no caching allocator on
/// the CPU: every tensor is a fresh <c>malloc</c>. glibc serves blocks of more than a few MB with <c>mmap</c> and
/// returns them to the system when they are freed, so the next tensor of that size starts on new pages, each of which
/// the kernel zero-fills on first touch. Attributions allocate many large temporaries (a rule's modified outputs and
/// quotients) and pay for those page faults again on every call: with resnet50 at batch 8 they cost about a third of
/// an EpsilonPlusFlat attribution. <see cref="KeepFreedMemory"/> makes glibc keep freed memory for reuse instead.
/// </summary>
public static class NativeAllocator
{
    // mallopt parameters (malloc.h).
    private const int TrimThreshold = -1;
    private const int TopPad = -2;
    private const int MmapMax = -4;

    private static int kept;

    /// <summary>Whether <see cref="KeepFreedMemory"/> has taken effect in this process.</summary>
    public static bool KeepsFreedMemory => Volatile.Read(ref kept) == 1;

    /// <summary>
    /// Tells glibc to serve every block from its heap (no <c>mmap</c> per block), to keep freed memory instead of
    /// returning it to the system, and to grow its heap in steps of 64 MB. Resident memory then stays at the peak of
    /// the work done so far instead of falling back between calls, and repeated attributions reuse warm pages.
    /// Affects the whole process and cannot be undone; meant for programs whose main job is attribution (the
    /// <c>relevance</c> command calls it). Does nothing and returns <c>false</c> where the C library is not glibc.
    /// </summary>
    /// <returns>Whether the settings took effect.</returns>
    public static bool KeepFreedMemory()
    {
        if (KeepsFreedMemory)
        {
            return true;
        }
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }
        try
        {
            bool ok = mallopt(MmapMax, 0) == 1
                && mallopt(TrimThreshold, int.MaxValue) == 1
                && mallopt(TopPad, 64 << 20) == 1;
            if (ok)
            {
                Volatile.Write(ref kept, 1);
            }
            return ok;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl or another C library without glibc's mallopt
        }
    }

    [DllImport("libc.so.6", EntryPoint = "mallopt", ExactSpelling = true)]
    private static extern int mallopt(int param, int value);
}
