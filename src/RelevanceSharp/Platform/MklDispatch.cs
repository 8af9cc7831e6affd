using System.Runtime.InteropServices;

namespace RelevanceSharp.Platform;

/// <summary>What <see cref="MklDispatch"/> did in this process.</summary>
/// <param name="IntelKernels">Whether MKL's processor check now answers yes on this (AMD) processor.</param>
/// <param name="Reason">Why, or why not, in words.</param>
public sealed record MklDispatchState(bool IntelKernels, string Reason);

/// <summary>
/// libtorch's CPU build links Intel's MKL, which answers every float32 and float64 matrix product (dense layers,
/// attention, <c>matmul</c>). MKL asks whether the processor is Intel's (<c>mkl_serv_intel_cpu_true</c>) and on any
/// other takes slower generic kernels, whatever instructions the processor has: on the AMD EPYC development machine a
/// 128 x 2048 by 2048 x 8192 product took 85 ms, against 50 ms for PyTorch 1.13 with OpenBLAS on the same machine and
/// 40-47 ms once MKL's check answered yes. On an AMD (or Hygon) processor this overwrites that check in the loaded
/// libtorch with <c>return 1</c> before the first product, so that MKL picks its kernels by the instruction sets the
/// processor reports, as it does on Intel's. Results stay within rounding of the generic kernels'. Nothing is changed
/// on other processors, where the library cannot be written, or with <c>RELEVANCESHARP_MKL_DISPATCH=off</c>.
/// <see cref="CpuGuard.Ensure"/> applies it, so every entry point does.
/// </summary>
public static class MklDispatch
{
    /// <summary>The environment variable that turns this off (<c>off</c>) or leaves it on (<c>auto</c>, the default).</summary>
    public const string ModeVariable = "RELEVANCESHARP_MKL_DISPATCH";

    private const string CheckSymbol = "mkl_serv_intel_cpu_true";

    // mov eax, 1; ret
    private static readonly byte[] ReturnOne = [0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3];

    /// <summary>Whether the check should be overwritten for a processor vendor and a setting of <see cref="ModeVariable"/>.</summary>
    /// <returns><c>null</c> to overwrite it, or the reason not to.</returns>
    /// <exception cref="ArgumentException">The setting is neither <c>auto</c> nor <c>off</c>.</exception>
    public static string? Decide(string vendor, Architecture architecture, string? setting)
    {
        string mode = setting?.Trim().ToLowerInvariant() ?? "";
        if (mode is not ("" or "auto" or "off"))
        {
            throw new ArgumentException($"{ModeVariable}={setting} is not one of auto, off.");
        }
        if (mode == "off")
        {
            return $"left alone ({ModeVariable}=off)";
        }
        if (architecture != Architecture.X64)
        {
            return $"not an x86-64 processor ({architecture})";
        }
        return vendor is "AuthenticAMD" or "HygonGenuine" ? null : $"MKL takes its own kernels on this processor ({(vendor.Length > 0 ? vendor : "vendor unknown")})";
    }

    /// <summary>Decides for this processor and the environment and applies the decision once.</summary>
    internal static MklDispatchState Apply(CpuDescription cpu)
    {
        string? reason;
        try
        {
            reason = Decide(cpu.Vendor, cpu.Architecture, Environment.GetEnvironmentVariable(ModeVariable));
        }
        catch (ArgumentException ex)
        {
            return new MklDispatchState(false, $"{ex.Message} Left MKL alone.");
        }
        if (reason is not null)
        {
            return new MklDispatchState(false, reason);
        }
        if (!OperatingSystem.IsLinux())
        {
            return new MklDispatchState(false, "only done on Linux");
        }
        if (CheckAddress() is not { } check)
        {
            return new MklDispatchState(false, $"libtorch has no {CheckSymbol} (not built with MKL)");
        }
        return Overwrite(check)
            ? new MklDispatchState(true, $"AMD processor: MKL's Intel check ({CheckSymbol}) answers yes, so it picks kernels by the instruction sets present ({ModeVariable}=off leaves it alone)")
            : new MklDispatchState(false, $"the code of {CheckSymbol} could not be made writable (mprotect refused); MKL keeps its generic kernels");
    }

    /// <summary>Whether MKL's check answers yes in this process (for diagnostics and tests); <c>null</c> where it cannot be called.</summary>
    public static bool? ChecksAsIntel() =>
        CheckAddress() is { } check ? Marshal.GetDelegateForFunctionPointer<IntReturning>(check)() != 0 : null;

    /// <summary>Where MKL's check is in the loaded libtorch (Linux only), or <c>null</c>.</summary>
    private static IntPtr? CheckAddress()
    {
        IntPtr library = OperatingSystem.IsLinux() ? LibTorchContext.Load() : IntPtr.Zero;
        return library != IntPtr.Zero && NativeLibrary.TryGetExport(library, CheckSymbol, out IntPtr check) ? check : null;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int IntReturning();

    private static bool Overwrite(IntPtr function)
    {
        long pageSize = Environment.SystemPageSize;
        long start = function.ToInt64() & ~(pageSize - 1);
        long length = function.ToInt64() + ReturnOne.Length - start;
        var page = new IntPtr(start);
        var size = new UIntPtr((ulong)length);
        if (Native.mprotect(page, size, Native.Read | Native.Write | Native.Execute) != 0)
        {
            return false;
        }
        Marshal.Copy(ReturnOne, 0, function, ReturnOne.Length);
        // Back to what a code page is; should this fail, the page stays writable, which changes no result.
        Native.mprotect(page, size, Native.Read | Native.Execute);
        return true;
    }

    private static class Native
    {
        public const int Read = 1;
        public const int Write = 2;
        public const int Execute = 4;

        [DllImport("libc", SetLastError = true)]
        public static extern int mprotect(IntPtr address, UIntPtr length, int protection);
    }
}
