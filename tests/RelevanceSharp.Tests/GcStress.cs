using System.Runtime.CompilerServices;

namespace RelevanceSharp.Tests;

/// <summary>
/// A background thread that collects garbage and runs finalizers without pause. TorchSharp tensors free their native
/// handle in a finalizer, and a temporary tensor passed straight into a native call (<c>a.copy_(b.to(...))</c>) is
/// unreachable while that call runs unless a dispose scope holds it; next to this thread such a call crashes the
/// process at once instead of about one run in ten. With <c>RELEVANCESHARP_GC_STRESS=1</c> it runs for the whole
/// test run; tests of such calls start one for their own duration.
/// </summary>
internal sealed class GcStress : IDisposable
{
    private readonly Thread thread;
    private volatile bool stopped;

    private GcStress()
    {
        thread = new Thread(() =>
        {
            while (!stopped)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        })
        { IsBackground = true, Name = "gc-stress" };
        thread.Start();
    }

    /// <summary>Starts collecting; disposing stops the thread and waits for it.</summary>
    public static GcStress Start() => new();

    public void Dispose()
    {
        stopped = true;
        thread.Join();
    }

    [ModuleInitializer]
    internal static void StartForTheRun()
    {
        if (Environment.GetEnvironmentVariable("RELEVANCESHARP_GC_STRESS") == "1")
        {
            // Never stopped: the thread is a background one and ends with the process.
            Start();
        }
    }
}
