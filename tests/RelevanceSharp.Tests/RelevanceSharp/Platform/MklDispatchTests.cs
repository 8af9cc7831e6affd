using System.Runtime.InteropServices;
using RelevanceSharp.Platform;

namespace RelevanceSharp.Tests.Platform;

/// <summary>MKL's processor check: the decision by vendor and setting, and its effect in this and a fresh process.</summary>
public class MklDispatchTests
{
    [Theory]
    [InlineData("AuthenticAMD", null)]
    [InlineData("HygonGenuine", "auto")]
    [InlineData("AuthenticAMD", " Auto ")]
    public void AnAmdProcessorGetsTheCheckOverwritten(string vendor, string? setting) =>
        Assert.Null(MklDispatch.Decide(vendor, Architecture.X64, setting));

    [Theory]
    [InlineData("GenuineIntel", null, "MKL takes its own kernels on this processor (GenuineIntel)")]
    [InlineData("", null, "MKL takes its own kernels on this processor (vendor unknown)")]
    [InlineData("AuthenticAMD", "off", "left alone (RELEVANCESHARP_MKL_DISPATCH=off)")]
    public void OtherProcessorsOrOffLeaveMklAlone(string vendor, string? setting, string reason) =>
        Assert.Equal(reason, MklDispatch.Decide(vendor, Architecture.X64, setting));

    [Fact]
    public void OnlyX64AndKnownSettingsCount()
    {
        Assert.Equal("not an x86-64 processor (Arm64)", MklDispatch.Decide("AuthenticAMD", Architecture.Arm64, null));
        var ex = Assert.Throws<ArgumentException>(() => MklDispatch.Decide("AuthenticAMD", Architecture.X64, "always"));
        Assert.Equal("RELEVANCESHARP_MKL_DISPATCH=always is not one of auto, off.", ex.Message);
    }

    [Fact]
    public void InThisProcessTheCheckAnswersAsDecided()
    {
        CpuGuard.Ensure();
        MklDispatchState state = CpuGuard.Mkl!;
        CpuDescription cpu = CpuDescription.Detect();
        bool overwrite = MklDispatch.Decide(cpu.Vendor, cpu.Architecture, Environment.GetEnvironmentVariable(MklDispatch.ModeVariable)) is null;
        Assert.Equal(overwrite, state.IntelKernels);
        if (overwrite)
        {
            // MKL itself would answer no on this processor: only the overwrite makes it yes.
            Assert.True(MklDispatch.ChecksAsIntel(), state.Reason);
        }
        if (cpu.Vendor == "GenuineIntel")
        {
            Assert.True(MklDispatch.ChecksAsIntel());
        }
    }

    [Fact]
    public void AFreshProcessReportsItAndOffLeavesMklsOwnAnswer()
    {
        CpuDescription cpu = CpuDescription.Detect();
        if (MklDispatch.Decide(cpu.Vendor, cpu.Architecture, null) is not null)
        {
            return; // Not an AMD processor: nothing to overwrite here (the decision tests above cover it).
        }
        ChildResult on = ChildProcess.Relevance(new Dictionary<string, string?>(), "doctor", "--no-kernel-check");
        Assert.Contains("MKL kernels: chosen by instruction set: AMD processor", on.Output, StringComparison.Ordinal);
        ChildResult off = ChildProcess.Relevance(new Dictionary<string, string?> { [MklDispatch.ModeVariable] = "off" }, "doctor", "--no-kernel-check");
        Assert.Contains("MKL kernels: MKL's own choice: left alone (RELEVANCESHARP_MKL_DISPATCH=off)", off.Output, StringComparison.Ordinal);
        Assert.Equal(0, off.ExitCode);
    }
}
