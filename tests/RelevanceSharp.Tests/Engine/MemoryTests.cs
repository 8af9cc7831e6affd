using System.Diagnostics;
using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using TorchSharp;
using TorchSharp.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Engine;

/// <summary>Attributing many inputs in a loop keeps native memory flat.</summary>
public class MemoryTests
{
    private readonly ITestOutputHelper output;

    public MemoryTests(ITestOutputHelper output) => this.output = output;

    /// <summary>Resident memory of this process in bytes, from /proc/self/status.</summary>
    private static long ResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    private static Sequential SmallConvNet()
    {
        Sequential model = nn.Sequential(
            ("0", nn.Conv2d(3, 8, 3, padding: 1)),
            ("1", nn.ReLU()),
            ("2", nn.Conv2d(8, 8, 3, padding: 1)),
            ("3", nn.BatchNorm2d(8)),
            ("4", nn.ReLU()),
            ("5", nn.AvgPool2d(2)),
            ("6", nn.Flatten()),
            ("7", nn.Linear(8 * 8 * 8, 10)));
        model.eval();
        return model;
    }

    [Fact]
    public void AThousandAttributionsKeepResidentMemoryFlat()
    {
        if (!File.Exists("/proc/self/status"))
        {
            return; // Resident memory is read from Linux's /proc.
        }
        // Tiny tensors: libtorch's intra-op threads only add synchronization, and on a loaded machine they make each
        // attribution some 25 times slower (measured: ~100 ms instead of ~4 ms with two threads on two busy cores).
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            AttributeInALoop();
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    private void AttributeInALoop()
    {
        manual_seed(5);
        Sequential model = SmallConvNet();
        var attributor = new Gradient(model, new EpsilonGammaBox(-3.0, 3.0));
        var inputGenerator = new Generator(17);

        void Attribute(int count)
        {
            for (int i = 0; i < count; i++)
            {
                using var scope = NewDisposeScope();
                Tensor x = randn(new long[] { 1, 3, 16, 16 }, generator: inputGenerator);
                using AttributionResult result = attributor.Attribute(x, AttributionTarget.Class(i % 10));
            }
        }

        // Warm up allocator, thread pools and JIT before the baseline.
        Attribute(100);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long start = ResidentBytes();
        long liveAtStart = Tensor.TotalCount;
        var clock = Stopwatch.StartNew();
        Attribute(500);
        long middle = ResidentBytes();
        Attribute(500);
        long liveAtEnd = Tensor.TotalCount;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long end = ResidentBytes();
        clock.Stop();

        const double MB = 1024.0 * 1024.0;
        output.WriteLine($"VmRSS start {start / MB:F1} MB, after 500 {middle / MB:F1} MB, after 1000 {end / MB:F1} MB; " +
            $"growth {(end - start) / MB:F1} MB in {clock.Elapsed.TotalSeconds:F1} s; live tensors {liveAtStart} -> {liveAtEnd}");
        Assert.True(end - start < 200 * MB, $"resident memory grew by {(end - start) / MB:F1} MB over 1000 attributions");
        // Every tensor an attribution creates is disposed by the time it returns (its dispose scope, the call's
        // aliases released after the backward pass): the number of live TorchSharp tensors does not grow. (Without
        // this, finalizers hide leaked tensors from the resident size once the GC runs.)
        Assert.True(liveAtEnd - liveAtStart <= 4, $"{liveAtEnd - liveAtStart} tensors were left alive by 1000 attributions");
        // A leak grows with the number of calls: the second 500 must not add much more than a few MB.
        Assert.True(end - middle < 32 * MB, $"resident memory still grew by {(end - middle) / MB:F1} MB over the last 500 attributions");
        ModelSnapshot.AssertNoHooks(model, "after the loop");
    }
}
