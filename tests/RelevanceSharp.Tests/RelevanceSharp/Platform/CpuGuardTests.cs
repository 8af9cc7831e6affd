using System.Runtime.InteropServices;
using RelevanceSharp.Platform;

namespace RelevanceSharp.Tests.Platform;

/// <summary>The guard's decision for processors described by hand.</summary>
public class CpuGuardTests
{
    private static readonly CacheLevel[] Caches = { new(1, 48 << 10), new(2, 1 << 20), new(3, 32 << 20) };

    // A sound host: the caches in sysfs and in CPUID, AVX2 and FMA present.
    private static readonly CpuDescription Sound = new(Architecture.X64, "AuthenticAMD", true, Caches, true);

    // The VM of the report: no cache folder in sysfs, CPUID enumerates no cache.
    private static readonly CpuDescription NoTopology = Sound with { SysfsCacheDirectory = false, CpuidCaches = Array.Empty<CacheLevel>() };

    private static readonly CpuGuardSettings Auto = new();

    [Fact]
    public void ASoundProcessorChangesNothing()
    {
        CpuGuardDecision decision = CpuGuard.Decide(Sound, Auto);
        Assert.False(decision.Engaged);
        Assert.Null(decision.IsaCap);
        Assert.False(decision.DisableMkldnn);
        Assert.False(decision.DisableNnpack);
        Assert.Null(decision.Notice);
    }

    [Fact]
    public void AProcessorWithoutCacheTopologyCapsOneDnnAtAvxAndTurnsNnpackOff()
    {
        CpuGuardDecision decision = CpuGuard.Decide(NoTopology, Auto);
        Assert.True(decision.Engaged);
        Assert.Equal("AVX", decision.IsaCap);
        Assert.False(decision.DisableMkldnn);
        Assert.True(decision.DisableNnpack);
        string notice = decision.Notice!;
        Assert.DoesNotContain('\n', notice);
        Assert.Contains(CpuDescription.SysfsCachePath, notice, StringComparison.Ordinal);
        Assert.Contains("capped oneDNN at AVX", notice, StringComparison.Ordinal);
        Assert.Contains("RELEVANCESHARP_CPU_GUARD=off", notice, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, true, true)]     // sysfs folder missing, CPUID fine
    [InlineData(null, false, false)]    // no sysfs (not Linux), CPUID lists nothing
    [InlineData(true, true, false)]     // sysfs present, but CPUID gives L2 a size of 0
    public void EitherSourceWithoutCacheSizesEngagesTheGuard(bool? sysfs, bool hasL1, bool l2HasSize)
    {
        var caches = new List<CacheLevel>();
        if (hasL1)
        {
            caches.Add(new CacheLevel(1, 32 << 10));
        }
        caches.Add(new CacheLevel(2, l2HasSize ? 1 << 20 : 0));
        CpuDescription cpu = Sound with { SysfsCacheDirectory = sysfs, CpuidCaches = caches };
        Assert.True(CpuGuard.Decide(cpu, Auto).Engaged);
    }

    [Fact]
    public void OffLeavesEvenAFaultyProcessorAlone()
    {
        CpuGuardDecision decision = CpuGuard.Decide(NoTopology, new CpuGuardSettings(CpuGuardMode.Off));
        Assert.Equal((false, null, false, false), (decision.Engaged, decision.IsaCap, decision.DisableMkldnn, decision.DisableNnpack));
        Assert.Null(decision.Notice);
    }

    [Fact]
    public void OnEngagesOnASoundProcessor()
    {
        CpuGuardDecision decision = CpuGuard.Decide(Sound, new CpuGuardSettings(CpuGuardMode.On));
        Assert.True(decision.Engaged);
        Assert.Equal("AVX", decision.IsaCap);
        Assert.Contains("forced on", decision.Notice, StringComparison.Ordinal);
    }

    [Fact]
    public void AnInstructionSetCapTheUserSetWins()
    {
        CpuGuardDecision decision = CpuGuard.Decide(NoTopology, new CpuGuardSettings(UserIsa: "ONEDNN_MAX_CPU_ISA=SSE41"));
        Assert.True(decision.Engaged);
        Assert.Null(decision.IsaCap);
        Assert.True(decision.DisableNnpack);
        Assert.Contains("kept the user's oneDNN cap ONEDNN_MAX_CPU_ISA=SSE41", decision.Notice, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(CpuGuardMeasure.CapIsaSse41, "SSE41", false)]
    [InlineData(CpuGuardMeasure.DisableMkldnn, null, true)]
    public void TheMeasureCanBeChosen(CpuGuardMeasure measure, string? cap, bool mkldnnOff)
    {
        CpuGuardDecision decision = CpuGuard.Decide(NoTopology, new CpuGuardSettings(Measure: measure));
        Assert.Equal((true, cap, mkldnnOff), (decision.Engaged, decision.IsaCap, decision.DisableMkldnn));
    }

    [Fact]
    public void WithoutAvx2NnpackIsOnlySilenced()
    {
        // NNPACK cannot start there anyway; turning it off changes no result, so the guard stays quiet about it.
        CpuGuardDecision decision = CpuGuard.Decide(Sound with { HasAvx2AndFma = false }, Auto);
        Assert.False(decision.Engaged);
        Assert.Null(decision.IsaCap);
        Assert.True(decision.DisableNnpack);
        Assert.Null(decision.Notice);
    }

    [Fact]
    public void OtherArchitecturesAreLeftAlone()
    {
        var arm = new CpuDescription(Architecture.Arm64, "", false, null, false);
        CpuGuardDecision decision = CpuGuard.Decide(arm, Auto);
        Assert.Equal((false, null, false, false), (decision.Engaged, decision.IsaCap, decision.DisableMkldnn, decision.DisableNnpack));
    }

    [Fact]
    public void DetectionAgreesWithSysfs()
    {
        CpuDescription cpu = CpuDescription.Detect();
        if (OperatingSystem.IsLinux() && Directory.Exists("/sys/devices/system/cpu"))
        {
            bool listed = Directory.Exists(CpuDescription.SysfsCachePath)
                && Directory.EnumerateDirectories(CpuDescription.SysfsCachePath, "index*").Any();
            Assert.Equal(listed, cpu.SysfsCacheDirectory);
        }
        Assert.Equal(RuntimeInformation.ProcessArchitecture, cpu.Architecture);
        if (cpu.Architecture == Architecture.X64)
        {
            Assert.NotNull(cpu.CpuidCaches);
            Assert.Equal(12, cpu.Vendor.Length);
        }
    }

    [Fact]
    public void ConfiguringAfterTheGuardRanIsRefused()
    {
        CpuGuardDecision current = CpuGuard.Ensure();
        Assert.Same(current, CpuGuard.Current);
        var other = new CpuGuardSettings(CpuGuardMode.On, CpuGuardMeasure.CapIsaSse41);
        Assert.Throws<InvalidOperationException>(() => CpuGuard.Configure(other));
    }
}
