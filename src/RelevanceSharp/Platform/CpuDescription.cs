using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace RelevanceSharp.Platform;

/// <summary>One data or unified cache level as the processor reports it.</summary>
/// <param name="Level">1 for L1, 2 for L2, ...</param>
/// <param name="SizeBytes">Its size in bytes (0 when the processor gives none).</param>
public sealed record CacheLevel(int Level, long SizeBytes);

/// <summary>
/// What the CPU guard knows of the processor: the facts that decide whether libtorch's CPU kernels can size their
/// blocks. oneDNN and NNPACK read the cache hierarchy from CPUID (leaf 4 on Intel, 0x8000001D on AMD), which is also
/// where Linux takes <c>/sys/devices/system/cpu/cpu0/cache</c> from. Tests build descriptions by hand; the guard
/// uses <see cref="Detect"/>.
/// </summary>
/// <param name="Architecture">The process architecture.</param>
/// <param name="Vendor">The CPUID vendor string (e.g. <c>AuthenticAMD</c>), or empty where there is no CPUID.</param>
/// <param name="SysfsCacheDirectory">
/// Whether Linux lists cpu0's caches under <c>/sys/devices/system/cpu/cpu0/cache</c>: <c>false</c> when the folder is
/// missing or holds no cache, <c>null</c> off Linux or where <c>/sys</c> itself is not mounted.
/// </param>
/// <param name="CpuidCaches">The data and unified caches that CPUID enumerates, or <c>null</c> where there is no CPUID.</param>
/// <param name="HasAvx2AndFma">Whether the processor has AVX2 and FMA3, which NNPACK needs.</param>
public sealed record CpuDescription(
    Architecture Architecture,
    string Vendor,
    bool? SysfsCacheDirectory,
    IReadOnlyList<CacheLevel>? CpuidCaches,
    bool HasAvx2AndFma)
{
    /// <summary>The folder where Linux describes cpu0's caches.</summary>
    public const string SysfsCachePath = "/sys/devices/system/cpu/cpu0/cache";

    /// <summary>Reads the description of the processor this process runs on.</summary>
    public static CpuDescription Detect()
    {
        Architecture architecture = RuntimeInformation.ProcessArchitecture;
        bool x86 = architecture is Architecture.X64 or Architecture.X86 && X86Base.IsSupported;
        string vendor = x86 ? Cpuid.Vendor() : "";
        return new CpuDescription(
            architecture,
            vendor,
            SysfsCaches(),
            x86 ? Cpuid.DataCaches(vendor) : null,
            Avx2.IsSupported && Fma.IsSupported);
    }

    /// <summary>Whether the x86 processor enumerates an L1 data cache and an L2 cache, each with a size.</summary>
    public bool CpuidReportsCaches =>
        CpuidCaches is { } caches
        && caches.Any(c => c.Level == 1 && c.SizeBytes > 0)
        && caches.Any(c => c.Level == 2 && c.SizeBytes > 0);

    /// <summary>A short account of the cache facts, for messages: "sysfs cache folder missing, CPUID lists no L2".</summary>
    public string DescribeCaches()
    {
        var parts = new List<string>();
        if (SysfsCacheDirectory == false)
        {
            parts.Add($"{SysfsCachePath} is missing or empty");
        }
        if (CpuidCaches is { } caches)
        {
            parts.Add(caches.Count == 0
                ? "CPUID lists no data cache"
                : "CPUID lists " + string.Join(", ", caches.Select(c => $"L{c.Level} {FormatSize(c.SizeBytes)}")));
        }
        return parts.Count == 0 ? "no cache facts available" : string.Join("; ", parts);
    }

    private static string FormatSize(long bytes) =>
        bytes == 0 ? "of size 0" : bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";

    private static bool? SysfsCaches()
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/sys/devices/system/cpu"))
        {
            return null;
        }
        try
        {
            return Directory.Exists(SysfsCachePath)
                && Directory.EnumerateDirectories(SysfsCachePath, "index*").Any(d => File.Exists(Path.Combine(d, "size")));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The CPUID leaves the guard reads.</summary>
    private static class Cpuid
    {
        private const int ExtendedBase = unchecked((int)0x80000000);
        private const int AmdCacheLeaf = unchecked((int)0x8000001D);
        private const int AmdL1Leaf = unchecked((int)0x80000005);
        private const int AmdL2Leaf = unchecked((int)0x80000006);
        private const int AmdFeatureLeaf = unchecked((int)0x80000001);

        public static string Vendor()
        {
            var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
            Span<byte> bytes = stackalloc byte[12];
            BitConverter.TryWriteBytes(bytes[..4], ebx);
            BitConverter.TryWriteBytes(bytes[4..8], edx);
            BitConverter.TryWriteBytes(bytes[8..], ecx);
            return System.Text.Encoding.ASCII.GetString(bytes);
        }

        public static IReadOnlyList<CacheLevel> DataCaches(string vendor)
        {
            bool amd = vendor is "AuthenticAMD" or "HygonGenuine";
            int maxExtended = X86Base.CpuId(ExtendedBase, 0).Eax;
            if (amd)
            {
                bool topologyExtensions = unchecked((uint)maxExtended) >= 0x80000001u
                    && (X86Base.CpuId(AmdFeatureLeaf, 0).Ecx & (1 << 22)) != 0;
                if (topologyExtensions && unchecked((uint)maxExtended) >= 0x8000001Du)
                {
                    return Deterministic(AmdCacheLeaf);
                }
                return unchecked((uint)maxExtended) >= 0x80000006u ? LegacyAmd() : Array.Empty<CacheLevel>();
            }
            return X86Base.CpuId(0, 0).Eax >= 4 ? Deterministic(4) : Array.Empty<CacheLevel>();
        }

        // Leaf 4 (Intel) and 0x8000001D (AMD) share one layout: one sub-leaf per cache, type 0 ends the list.
        private static List<CacheLevel> Deterministic(int leaf)
        {
            var caches = new List<CacheLevel>();
            for (int sub = 0; sub < 16; sub++)
            {
                var (eax, ebx, ecx, _) = X86Base.CpuId(leaf, sub);
                int type = eax & 0x1F;
                if (type == 0)
                {
                    break;
                }
                if (type == 2)
                {
                    continue; // instruction cache
                }
                int level = (eax >> 5) & 0x7;
                long ways = ((uint)ebx >> 22) + 1L;
                long partitions = (((uint)ebx >> 12) & 0x3FF) + 1L;
                long line = ((uint)ebx & 0xFFF) + 1L;
                long sets = (uint)ecx + 1L;
                caches.Add(new CacheLevel(level, ways * partitions * line * sets));
            }
            return caches;
        }

        private static List<CacheLevel> LegacyAmd()
        {
            long l1 = ((uint)X86Base.CpuId(AmdL1Leaf, 0).Ecx >> 24) * 1024L;
            long l2 = ((uint)X86Base.CpuId(AmdL2Leaf, 0).Ecx >> 16) * 1024L;
            var caches = new List<CacheLevel>();
            if (l1 > 0)
            {
                caches.Add(new CacheLevel(1, l1));
            }
            if (l2 > 0)
            {
                caches.Add(new CacheLevel(2, l2));
            }
            return caches;
        }
    }
}
