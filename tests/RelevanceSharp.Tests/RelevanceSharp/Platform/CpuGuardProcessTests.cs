using RelevanceSharp.Platform;

namespace RelevanceSharp.Tests.Platform;

/// <summary>
/// The guard as applied in a fresh process, where it takes effect before libtorch's first kernel, and the regression
/// check of the kernels that crashed on processors without cache topology: a float32 ResNet with bottleneck blocks
/// (1x1 stride-2 downsample) under every named composite with the <c>resnet</c> canonizer at batch 1 and 2, finite and
/// equal to the engine's general path. Each runs in a child process, so that a native fault fails the test instead of
/// ending the test host.
/// </summary>
public class CpuGuardProcessTests
{
    private static Dictionary<string, string?> Env(params (string Name, string? Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value);

    private static void AssertKernelCheckPassed(ChildResult result)
    {
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}\n{result.Output}\n{result.Error}");
        Assert.Contains("kernel check passed", result.Output, StringComparison.Ordinal);
        // Every composite the tool registers (this test process may register more of its own), at batch 1 and 2.
        string[] ok = result.Output.Split('\n').Select(line => line.Trim()).Where(line => line.StartsWith("ok  ", StringComparison.Ordinal)).ToArray();
        string[] Names(int batch) => ok.Where(line => line.Contains($", batch {batch}:", StringComparison.Ordinal))
            .Select(line => line[4..line.IndexOf(',', StringComparison.Ordinal)].Trim()).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(Names(1), Names(2));
        Assert.Equal(ok.Length, 2 * Names(1).Length);
        Assert.Contains("epsilon_gamma_box", Names(1));
        Assert.Contains("attnlrp", Names(1));
    }

    [Fact]
    public void ByDefaultTheGuardDecidesByThisProcessorAndTheKernelsAreSound()
    {
        CpuGuardDecision expected = CpuGuard.Decide(CpuDescription.Detect(), new CpuGuardSettings());
        ChildResult result = ChildProcess.Relevance(Env(), "doctor");
        AssertKernelCheckPassed(result);
        if (expected.Engaged)
        {
            Assert.Contains("guard: engaged", result.Output, StringComparison.Ordinal);
            Assert.Equal(new[] { expected.Notice }, result.ErrorLines);
        }
        else
        {
            // A sound processor: nothing changed, nothing said.
            Assert.Contains("guard: not engaged", result.Output, StringComparison.Ordinal);
            Assert.Contains($"oneDNN instruction-set cap: none; oneDNN on, NNPACK {(expected.DisableNnpack ? "off" : "on")}", result.Output, StringComparison.Ordinal);
            Assert.Empty(result.ErrorLines);
        }
    }

    [Fact]
    public void ForcedOnItCapsOneDnnNativelyTurnsNnpackOffAndSaysSoOnce()
    {
        ChildResult result = ChildProcess.Relevance(Env(("RELEVANCESHARP_CPU_GUARD", "on")), "doctor");
        AssertKernelCheckPassed(result);
        // The reason is "forced on" on a sound processor; where the guard would engage anyway, it names the fault.
        CpuGuardDecision expected = CpuGuard.Decide(CpuDescription.Detect(), new CpuGuardSettings(CpuGuardMode.On));
        Assert.True(expected.Engaged);
        Assert.Contains($"guard: engaged: {expected.Reason}", result.Output, StringComparison.Ordinal);
        // Read back from the native environment and from libtorch's context: the settings reached native code.
        Assert.Contains("oneDNN instruction-set cap: AVX; oneDNN on, NNPACK off", result.Output, StringComparison.Ordinal);
        string line = Assert.Single(result.ErrorLines);
        Assert.Equal(expected.Notice, line);
        if (!CpuGuard.Decide(CpuDescription.Detect(), new CpuGuardSettings()).Engaged)
        {
            Assert.StartsWith("note: CPU guard: forced on", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheOneDnnOffMeasureIsCorrectToo()
    {
        ChildResult result = ChildProcess.Relevance(
            Env(("RELEVANCESHARP_CPU_GUARD", "on"), ("RELEVANCESHARP_CPU_GUARD_MEASURE", "no-mkldnn")), "doctor");
        AssertKernelCheckPassed(result);
        Assert.Contains("oneDNN instruction-set cap: none; oneDNN off, NNPACK off", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void TheUsersOwnCapAndTheOffSwitchWin()
    {
        ChildResult kept = ChildProcess.Relevance(
            Env(("RELEVANCESHARP_CPU_GUARD", "on"), ("ONEDNN_MAX_CPU_ISA", "SSE41")), "doctor", "--no-kernel-check");
        Assert.Equal(0, kept.ExitCode);
        Assert.Contains("oneDNN instruction-set cap: SSE41;", kept.Output, StringComparison.Ordinal);
        Assert.Contains("kept the user's oneDNN cap ONEDNN_MAX_CPU_ISA=SSE41", kept.Output, StringComparison.Ordinal);

        ChildResult off = ChildProcess.Relevance(Env(("RELEVANCESHARP_CPU_GUARD", "off")), "doctor", "--no-kernel-check");
        Assert.Equal(0, off.ExitCode);
        Assert.Contains("guard: not engaged: turned off", off.Output, StringComparison.Ordinal);
        Assert.Contains("oneDNN instruction-set cap: none; oneDNN on, NNPACK on", off.Output, StringComparison.Ordinal);
        Assert.Empty(off.ErrorLines);
    }

    [Fact]
    public void AMistypedSettingIsReportedAndTheGuardStillDecides()
    {
        ChildResult result = ChildProcess.Relevance(Env(("RELEVANCESHARP_CPU_GUARD", "sometimes")), "doctor", "--no-kernel-check");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains(result.ErrorLines, line => line.Contains("RELEVANCESHARP_CPU_GUARD=sometimes is not one of auto, off, on", StringComparison.Ordinal));
    }

    [Fact]
    public void TheDemoWritesNothingToStandardErrorButTheGuardsNotice()
    {
        string output = Path.Combine(Path.GetTempPath(), "relevancesharp-demo-" + Guid.NewGuid().ToString("N"));
        try
        {
            ChildResult result = ChildProcess.Relevance(Env(), "demo", "--output", output);
            Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}\n{result.Output}\n{result.Error}");
            // Nothing from libtorch (NNPACK's warnings, oneDNN's messages): at most the guard's one line, on a processor
            // where it engages.
            string? notice = CpuGuard.Decide(CpuDescription.Detect(), new CpuGuardSettings()).Notice;
            Assert.Equal(notice is null ? Array.Empty<string>() : new[] { notice }, result.ErrorLines);
            Assert.True(File.Exists(Path.Combine(output, "demo.png")));
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
