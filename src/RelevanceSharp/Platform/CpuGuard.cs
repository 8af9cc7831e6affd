using System.Runtime.InteropServices;

namespace RelevanceSharp.Platform;

/// <summary>Whether the CPU guard decides by itself, stays off, or engages on any hardware.</summary>
public enum CpuGuardMode
{
    /// <summary>Engage only on a processor that reports no cache sizes (the default).</summary>
    Auto,

    /// <summary>Never change libtorch's kernel choice.</summary>
    Off,

    /// <summary>Engage on any hardware (for measuring the guard's cost, or for a fault the detection misses).</summary>
    On,
}

/// <summary>How the guard routes convolutions around oneDNN's faulty blocking code.</summary>
public enum CpuGuardMeasure
{
    /// <summary>Cap oneDNN's instruction set at AVX (<c>ONEDNN_MAX_CPU_ISA=AVX</c>): the AVX2 and AVX-512 brgemm kernels, whose blocking divides by the cache size, are never chosen.</summary>
    CapIsaAvx,

    /// <summary>Cap oneDNN's instruction set at SSE4.1.</summary>
    CapIsaSse41,

    /// <summary>Turn oneDNN (mkldnn) off in libtorch, so convolutions take libtorch's own im2col and GEMM kernels.</summary>
    DisableMkldnn,
}

/// <summary>The guard's settings; <see cref="FromEnvironment"/> reads them from the process environment.</summary>
/// <param name="Mode">Auto, off or on.</param>
/// <param name="Measure">The measure when engaged; <c>null</c> for the default (<see cref="CpuGuard.DefaultMeasure"/>).</param>
/// <param name="UserIsa">
/// A oneDNN instruction-set cap the user has already set (<c>ONEDNN_MAX_CPU_ISA</c> or <c>DNNL_MAX_CPU_ISA</c>); the
/// guard never overrides it.
/// </param>
public sealed record CpuGuardSettings(CpuGuardMode Mode = CpuGuardMode.Auto, CpuGuardMeasure? Measure = null, string? UserIsa = null)
{
    /// <summary>The variable that sets the mode: <c>auto</c>, <c>off</c> or <c>on</c>.</summary>
    public const string ModeVariable = "RELEVANCESHARP_CPU_GUARD";

    /// <summary>The variable that sets the measure: <c>avx</c>, <c>sse41</c> or <c>no-mkldnn</c>.</summary>
    public const string MeasureVariable = "RELEVANCESHARP_CPU_GUARD_MEASURE";

    /// <summary>The settings the process environment gives; throws on a value the guard does not know.</summary>
    public static CpuGuardSettings FromEnvironment()
    {
        string? mode = Environment.GetEnvironmentVariable(ModeVariable)?.Trim().ToLowerInvariant();
        string? measure = Environment.GetEnvironmentVariable(MeasureVariable)?.Trim().ToLowerInvariant();
        return new CpuGuardSettings(
            mode switch
            {
                null or "" or "auto" => CpuGuardMode.Auto,
                "off" or "0" or "false" => CpuGuardMode.Off,
                "on" or "1" or "true" or "force" => CpuGuardMode.On,
                _ => throw new ArgumentException($"{ModeVariable}={mode} is not one of auto, off, on."),
            },
            measure switch
            {
                null or "" => null,
                "avx" => CpuGuardMeasure.CapIsaAvx,
                "sse41" => CpuGuardMeasure.CapIsaSse41,
                "no-mkldnn" => CpuGuardMeasure.DisableMkldnn,
                _ => throw new ArgumentException($"{MeasureVariable}={measure} is not one of avx, sse41, no-mkldnn."),
            },
            NativeEnvironment.UserIsa());
    }
}

/// <summary>The CPU backend settings in force in this process.</summary>
/// <param name="OneDnnIsaCap">The native value of <c>ONEDNN_MAX_CPU_ISA</c>, or <c>null</c>.</param>
/// <param name="OneDnnEnabled">Whether libtorch uses oneDNN (mkldnn); <c>null</c> where it cannot be read.</param>
/// <param name="NnpackEnabled">Whether libtorch may use NNPACK; <c>null</c> where it cannot be read.</param>
public sealed record CpuBackendState(string? OneDnnIsaCap, bool? OneDnnEnabled, bool? NnpackEnabled);

/// <summary>What the guard decided for one processor and one set of settings.</summary>
/// <param name="Engaged">Whether it changes libtorch's kernel choice for correctness.</param>
/// <param name="IsaCap">The oneDNN instruction-set cap it sets (<c>AVX</c>, <c>SSE41</c>), or <c>null</c>.</param>
/// <param name="DisableMkldnn">Whether it turns oneDNN off in libtorch.</param>
/// <param name="DisableNnpack">
/// Whether it turns NNPACK off: where NNPACK cannot start (no cache sizes, or no AVX2 and FMA) libtorch falls back
/// anyway but prints a warning on every convolution; turning it off changes no result.
/// </param>
/// <param name="Reason">Why, in words.</param>
public sealed record CpuGuardDecision(bool Engaged, string? IsaCap, bool DisableMkldnn, bool DisableNnpack, string Reason)
{
    /// <summary>A problem with the guard's own settings or with applying it, or <c>null</c>.</summary>
    public string? Warning { get; init; }

    /// <summary>
    /// One line for a command's standard error when the guard engaged, or <c>null</c> when it did not (on sound
    /// hardware a command says nothing).
    /// </summary>
    public string? Notice
    {
        get
        {
            if (!Engaged)
            {
                return Warning is null ? null : $"warning: CPU guard: {Warning}";
            }
            var actions = new List<string>();
            if (IsaCap is not null)
            {
                actions.Add($"capped oneDNN at {IsaCap}");
            }
            if (DisableMkldnn)
            {
                actions.Add("turned oneDNN off");
            }
            if (DisableNnpack)
            {
                actions.Add("turned NNPACK off");
            }
            string did = actions.Count == 0 ? "changed nothing" : string.Join(" and ", actions);
            string warning = Warning is null ? "" : $"; warning: {Warning}";
            return $"note: CPU guard: {Reason}; {did}{warning} ({CpuGuardSettings.ModeVariable}=off disables this)";
        }
    }
}

/// <summary>
/// Keeps libtorch's CPU kernels from crashing or returning NaN on processors that report no cache topology, as many
/// virtual machines do (<c>/sys/devices/system/cpu/cpu0/cache</c> missing). There oneDNN's AVX2 and AVX-512 brgemm
/// convolutions size their blocks from a cache size of zero: an integer division by zero (SIGFPE) in the backward
/// pass of a strided 1x1 convolution, or NaN results; and NNPACK fails to start, warning on every call.
/// <para>
/// Every RelevanceSharp entry point (attributors, composites, canonizers, the model zoo, checkpoints, evaluation)
/// calls <see cref="Ensure"/> before its first tensor operation. Programs that run convolutions of their own before
/// touching RelevanceSharp should call it first: oneDNN reads its instruction-set cap once, at its first use. On
/// sound hardware it changes nothing. An instruction-set cap the user set (<c>ONEDNN_MAX_CPU_ISA</c>) always wins,
/// and <c>RELEVANCESHARP_CPU_GUARD=off</c> turns the guard off.
/// </para>
/// </summary>
public static class CpuGuard
{
    /// <summary>
    /// The measure used when none is set: capping oneDNN at AVX, which measured fastest of the measures known to be
    /// correct on an affected machine (see the README's performance section).
    /// </summary>
    public const CpuGuardMeasure DefaultMeasure = CpuGuardMeasure.CapIsaAvx;

    private static readonly object Gate = new();
    private static CpuGuardSettings? configured;
    private static CpuGuardDecision? applied;
    private static MklDispatchState? mkl;

    /// <summary>What is in force in libtorch now, whoever set it (for diagnostics and tests).</summary>
    public static CpuBackendState State()
    {
        var enabled = LibTorchContext.Enabled();
        return new CpuBackendState(NativeEnvironment.Get("ONEDNN_MAX_CPU_ISA"), enabled?.Mkldnn, enabled?.Nnpack);
    }

    /// <summary>The decision in force, or <c>null</c> before <see cref="Ensure"/> ran.</summary>
    public static CpuGuardDecision? Current => Volatile.Read(ref applied);

    /// <summary>What <see cref="MklDispatch"/> did when <see cref="Ensure"/> ran, or <c>null</c> before.</summary>
    public static MklDispatchState? Mkl => Volatile.Read(ref mkl);

    /// <summary>
    /// Sets the guard's settings in place of the environment's. Only possible before the guard has been applied,
    /// that is before any other RelevanceSharp call of the process; throws <see cref="InvalidOperationException"/>
    /// afterwards unless the settings are those already in force.
    /// </summary>
    public static void Configure(CpuGuardSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        lock (Gate)
        {
            if (applied is not null)
            {
                if (configured == settings)
                {
                    return;
                }
                throw new InvalidOperationException(
                    "The CPU guard was already applied (at the first RelevanceSharp call of this process); configure it " +
                    $"before any other RelevanceSharp call, or set {CpuGuardSettings.ModeVariable} in the environment.");
            }
            configured = settings;
        }
    }

    /// <summary>
    /// Applies the guard once per process and returns its decision; later calls return the same decision at the cost
    /// of one read. Never throws: a guard that cannot read its settings or reach libtorch reports that in
    /// <see cref="CpuGuardDecision.Reason"/> and falls back to what it could apply.
    /// </summary>
    public static CpuGuardDecision Ensure()
    {
        if (Volatile.Read(ref applied) is { } done)
        {
            return done;
        }
        lock (Gate)
        {
            if (applied is not null)
            {
                return applied;
            }
            CpuGuardDecision decision;
            CpuDescription cpu = CpuDescription.Detect();
            try
            {
                configured ??= CpuGuardSettings.FromEnvironment();
                decision = Decide(cpu, configured);
            }
            catch (ArgumentException ex)
            {
                // A mistyped setting must not leave a faulty machine unguarded: decide as in auto mode and say why.
                configured = new CpuGuardSettings(UserIsa: NativeEnvironment.UserIsa());
                decision = Decide(cpu, configured);
                decision = decision with { Warning = $"{ex.Message} Using auto." };
            }
            decision = Apply(decision);
            // Speed, not correctness, and independent of the guard's settings: before the first matrix product too.
            Volatile.Write(ref mkl, MklDispatch.Apply(cpu));
            Volatile.Write(ref applied, decision);
            return decision;
        }
    }

    /// <summary>
    /// The decision for a processor and settings, without applying it: the guard's whole logic, testable with a
    /// description written by hand.
    /// </summary>
    public static CpuGuardDecision Decide(CpuDescription cpu, CpuGuardSettings settings)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        ArgumentNullException.ThrowIfNull(settings);
        bool x86 = cpu.Architecture is Architecture.X64 or Architecture.X86;
        string? fault = x86 ? Fault(cpu) : null;
        // NNPACK needs AVX2, FMA and the cache sizes on x86; where it cannot start, turning it off only silences it.
        bool nnpackCannotStart = x86 && (fault is not null || !cpu.HasAvx2AndFma);

        if (settings.Mode == CpuGuardMode.Off)
        {
            return new CpuGuardDecision(false, null, false, false, $"turned off by {CpuGuardSettings.ModeVariable}=off");
        }
        if (fault is null && settings.Mode == CpuGuardMode.Auto)
        {
            string why = x86 ? $"the CPU reports its caches ({cpu.DescribeCaches()})" : $"not an x86 processor ({cpu.Architecture})";
            return new CpuGuardDecision(false, null, false, nnpackCannotStart, why);
        }

        string reason = fault ?? $"forced on by {CpuGuardSettings.ModeVariable}=on";
        CpuGuardMeasure measure = settings.Measure ?? DefaultMeasure;
        if (measure == CpuGuardMeasure.DisableMkldnn)
        {
            return new CpuGuardDecision(true, null, true, true, reason);
        }
        if (settings.UserIsa is { } userIsa)
        {
            return new CpuGuardDecision(true, null, false, true, $"{reason}; kept the user's oneDNN cap {userIsa}");
        }
        string cap = measure == CpuGuardMeasure.CapIsaSse41 ? "SSE41" : "AVX";
        return new CpuGuardDecision(true, cap, false, true, reason);
    }

    // What makes libtorch's kernels unsafe on this processor, or null.
    private static string? Fault(CpuDescription cpu)
    {
        if (cpu.SysfsCacheDirectory == false || (cpu.CpuidCaches is not null && !cpu.CpuidReportsCaches))
        {
            return $"this CPU reports no cache sizes ({cpu.DescribeCaches()}), on which oneDNN's convolutions divide by zero or return NaN";
        }
        return null;
    }

    private static CpuGuardDecision Apply(CpuGuardDecision decision)
    {
        var failures = new List<string>();
        if (decision.IsaCap is { } cap && !NativeEnvironment.Set("ONEDNN_MAX_CPU_ISA", cap))
        {
            failures.Add("could not set ONEDNN_MAX_CPU_ISA");
        }
        if (decision.DisableMkldnn || decision.DisableNnpack)
        {
            string? error = LibTorchContext.Disable(decision.DisableMkldnn, decision.DisableNnpack);
            if (error is not null)
            {
                failures.Add(error);
            }
        }
        if (failures.Count == 0)
        {
            return decision;
        }
        string failed = string.Join(", ", failures);
        return decision with { Warning = decision.Warning is null ? failed : $"{decision.Warning}; {failed}" };
    }
}

/// <summary>The native process environment, which oneDNN reads with <c>getenv</c>.</summary>
internal static class NativeEnvironment
{
    /// <summary>The oneDNN instruction-set cap the user set, natively or through .NET, or <c>null</c>.</summary>
    public static string? UserIsa()
    {
        foreach (string name in new[] { "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA" })
        {
            string? native = Get(name);
            if (!string.IsNullOrWhiteSpace(native))
            {
                return $"{name}={native}";
            }
            // .NET keeps its own copy of the environment on Unix: a value set there never reaches oneDNN's getenv.
            string? managed = Environment.GetEnvironmentVariable(name);
            if (!string.IsNullOrWhiteSpace(managed))
            {
                Set(name, managed);
                return $"{name}={managed}";
            }
        }
        return null;
    }

    /// <summary>The native value of a variable.</summary>
    public static string? Get(string name)
    {
        if (!OperatingSystem.IsLinux())
        {
            return Environment.GetEnvironmentVariable(name);
        }
        try
        {
            IntPtr value = getenv(name);
            return value == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(value);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return Environment.GetEnvironmentVariable(name);
        }
    }

    /// <summary>Sets a variable where native code reads it (and in .NET's copy); returns whether that worked.</summary>
    public static bool Set(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (!OperatingSystem.IsLinux())
        {
            return OperatingSystem.IsWindows(); // there SetEnvironmentVariable is the process environment
        }
        try
        {
            return setenv(name, value, 1) == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc.so.6", EntryPoint = "getenv", ExactSpelling = true)]
    private static extern IntPtr getenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport("libc.so.6", EntryPoint = "setenv", ExactSpelling = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}

/// <summary>
/// libtorch's global context switches for oneDNN and NNPACK (<c>torch.backends.mkldnn.enabled</c> and
/// <c>torch.backends.nnpack</c> in Python), which TorchSharp does not expose: called through their C++ symbols in
/// <c>libtorch_cpu</c>.
/// </summary>
internal static class LibTorchContext
{
    private const string GlobalContext = "_ZN2at13globalContextEv";
    private const string SetMkldnn = "_ZN2at7Context20setUserEnabledMkldnnEb";
    private const string SetNnpack = "_ZN2at7Context20setUserEnabledNNPACKEb";
    private const string GetMkldnn = "_ZNK2at7Context17userEnabledMkldnnEv";
    private const string GetNnpack = "_ZNK2at7Context17userEnabledNNPACKEv";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ContextGetter();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void FlagSetter(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool FlagGetter(IntPtr context);

    /// <summary>Turns the given backends off; returns <c>null</c>, or what failed.</summary>
    public static string? Disable(bool mkldnn, bool nnpack)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "libtorch's backend switches are only reached on Linux";
        }
        IntPtr library = Load();
        if (library == IntPtr.Zero)
        {
            return "libtorch_cpu could not be loaded";
        }
        IntPtr context = Call<ContextGetter>(library, GlobalContext)?.Invoke() ?? IntPtr.Zero;
        if (context == IntPtr.Zero)
        {
            return "libtorch's global context was not found";
        }
        var missing = new List<string>();
        if (mkldnn && !Switch(library, context, SetMkldnn, GetMkldnn))
        {
            missing.Add("oneDNN");
        }
        if (nnpack && !Switch(library, context, SetNnpack, GetNnpack))
        {
            missing.Add("NNPACK");
        }
        return missing.Count == 0 ? null : $"could not turn {string.Join(" and ", missing)} off";
    }

    /// <summary>Whether libtorch has oneDNN and NNPACK enabled (for tests and diagnostics); <c>null</c> where unknown.</summary>
    public static (bool Mkldnn, bool Nnpack)? Enabled()
    {
        IntPtr library = OperatingSystem.IsLinux() ? Load() : IntPtr.Zero;
        IntPtr context = library == IntPtr.Zero ? IntPtr.Zero : Call<ContextGetter>(library, GlobalContext)?.Invoke() ?? IntPtr.Zero;
        if (context == IntPtr.Zero || Call<FlagGetter>(library, GetMkldnn) is not { } mkldnn || Call<FlagGetter>(library, GetNnpack) is not { } nnpack)
        {
            return null;
        }
        return (mkldnn(context), nnpack(context));
    }

    private static bool Switch(IntPtr library, IntPtr context, string setter, string getter)
    {
        if (Call<FlagSetter>(library, setter) is not { } set || Call<FlagGetter>(library, getter) is not { } get)
        {
            return false;
        }
        set(context, false);
        return !get(context);
    }

    private static T? Call<T>(IntPtr library, string symbol) where T : Delegate =>
        NativeLibrary.TryGetExport(library, symbol, out IntPtr address) ? Marshal.GetDelegateForFunctionPointer<T>(address) : null;

    internal static IntPtr Load()
    {
        try
        {
            // TorchSharp finds and loads libtorch (from the libtorch-cpu package or a CUDA build); after that the
            // library is known to the dynamic loader by its name.
            TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return IntPtr.Zero;
        }
        return NativeLibrary.TryLoad("libtorch_cpu.so", out IntPtr handle) ? handle : IntPtr.Zero;
    }
}
