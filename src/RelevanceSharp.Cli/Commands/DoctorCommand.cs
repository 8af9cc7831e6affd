using System.CommandLine;
using RelevanceSharp.Platform;
using RelevanceSharp.Vision.Platform;

namespace RelevanceSharp.Cli.Commands;

/// <summary>
/// <c>relevance doctor</c>: what the CPU guard found and did, and a run of the kernels that fail on processors without
/// cache topology, each attribution compared with the engine's general path.
/// </summary>
public static class DoctorCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var skipCheck = new Option<bool>("--no-kernel-check") { Description = "Only report the processor and the guard's decision." };
        var command = new Command("doctor",
            "Report the processor facts the CPU guard reads and what it did, then attribute a small float32 ResNet with " +
            "bottleneck blocks under every composite and compare each result with the engine's general path.")
        {
            skipCheck,
        };
        command.WithExamples("Exits 1 if an attribution is not finite or differs from the general path.",
            "relevance doctor", "RELEVANCESHARP_CPU_GUARD=on relevance doctor");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            Report(writer);
            if (parse.GetValue(skipCheck))
            {
                return 0;
            }
            writer.WriteLine("kernel check: ResNet with bottleneck blocks, float32, 64x64, canonizer resnet, target class 1");
            int failed = 0;
            foreach (KernelCheck check in KernelSelfCheck.Run())
            {
                writer.WriteLine($"  {check}");
                failed += check.Passed ? 0 : 1;
            }
            writer.WriteLine(failed == 0 ? "kernel check passed" : $"kernel check: {failed} attribution(s) FAILED");
            return failed > 0 ? 1 : 0;
        }));
        return command;
    }

    private static void Report(TextWriter writer)
    {
        CpuDescription cpu = CpuDescription.Detect();
        CpuGuardDecision decision = CpuGuard.Ensure();
        writer.WriteLine($"processor: {(cpu.Vendor.Length > 0 ? cpu.Vendor + ", " : "")}{cpu.Architecture}, " +
            $"AVX2 and FMA {(cpu.HasAvx2AndFma ? "present" : "absent")}");
        writer.WriteLine($"caches: {cpu.DescribeCaches()}" +
            (cpu.SysfsCacheDirectory == true ? $"; {CpuDescription.SysfsCachePath} present" : ""));
        writer.WriteLine($"guard: {(decision.Engaged ? "engaged" : "not engaged")}: {decision.Reason}" +
            (decision.Warning is null ? "" : $" (warning: {decision.Warning})"));
        CpuBackendState state = CpuGuard.State();
        writer.WriteLine($"oneDNN instruction-set cap: {state.OneDnnIsaCap ?? "none"}; oneDNN {OnOff(state.OneDnnEnabled)}, NNPACK {OnOff(state.NnpackEnabled)}");
        if (CpuGuard.Mkl is { } mkl)
        {
            writer.WriteLine($"MKL kernels: {(mkl.IntelKernels ? "chosen by instruction set" : "MKL's own choice")}: {mkl.Reason}");
        }
    }

    private static string OnOff(bool? value) => value switch { true => "on", false => "off", null => "unknown" };
}
