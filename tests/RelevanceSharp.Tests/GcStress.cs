using System.Runtime.CompilerServices;

namespace RelevanceSharp.Tests;

/// <summary>
/// With <c>RELEVANCESHARP_GC_STRESS=1</c>, a background thread collects garbage and runs finalizers without pause
/// for the whole test run. TorchSharp tensors free their native handle in a finalizer, and a temporary tensor passed
/// straight into a native call (<c>a.copy_(b.to(...))</c>) is unreachable while that call runs unless a dispose scope
/// holds it; under this stress such a call crashes the test host at once instead of about one run in ten.
/// </summary>
internal static class GcStress
{
    [ModuleInitializer]
    internal static void Start()
    {
        if (Environment.GetEnvironmentVariable("RELEVANCESHARP_GC_STRESS") != "1")
        {
            return;
        }
        var thread = new Thread(() =>
        {
            while (true)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        })
        { IsBackground = true, Name = "gc-stress" };
        thread.Start();
    }
}
