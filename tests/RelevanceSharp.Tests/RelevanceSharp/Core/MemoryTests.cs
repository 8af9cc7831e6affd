using System.Diagnostics;
using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
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

    [SkippableFact]
    public void AThousandAttributionsKeepResidentMemoryFlat()
    {
        Skip.IfNot(File.Exists("/proc/self/status"), "resident memory is read from Linux's /proc, which this system lacks");
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

    [Theory]
    [InlineData(10)]
    [InlineData(40)]
    public void ABackwardPassKeepsNoTensorsOfTheLayersItHasPassed(int depth)
    {
        // Each rule's backward step gets a TorchSharp handle of the incoming gradient and returns one for its
        // result. Were they left to the caller's dispose scope, every layer's gradient would stay in memory until
        // the attribution ends; the probe at the first layer would then see two more live tensors per layer.
        manual_seed(3);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i < depth; i++)
        {
            layers.Add(($"{2 * i}", nn.Linear(16, 16)));
            layers.Add(($"{2 * i + 1}", nn.ReLU()));
        }
        Sequential model = nn.Sequential(layers);
        var linears = model.children().OfType<Linear>().ToList();
        var last = new LiveTensorProbe();
        var first = new LiveTensorProbe();
        var registrations = new List<IDisposable> { last.Register(linears[^1]), first.Register(linears[0]) };
        registrations.AddRange(linears.Skip(1).SkipLast(1).Select(layer => new Epsilon().Register(layer)));
        try
        {
            using var scope = NewDisposeScope();
            using var grad = enable_grad();
            Tensor x = randn(4, 16).requires_grad_(true);
            Tensor y = model.call(x);
            autograd.grad(new[] { y }, new[] { x }, new[] { ones_like(y) });
            BackwardFailures.ThrowIfAny();
            output.WriteLine($"depth {depth}: live tensors at the last layer {last.Live}, at the first {first.Live}");
            Assert.True(first.Live - last.Live <= 6,
                $"{first.Live - last.Live} more live tensors at the first layer than at the last, over {depth} layers");
        }
        finally
        {
            registrations.ForEach(r => r.Dispose());
        }
    }

    /// <summary>The ordinary gradient, noting how many TorchSharp tensors are alive when the backward step runs.</summary>
    private sealed class LiveTensorProbe : Rule
    {
        public long Live { get; private set; }

        public override bool ReadsOutput => false;

        public override Tensor Backward(RuleCall call, Tensor gradOutput)
        {
            Live = Tensor.TotalCount;
            return call.NaturalGradient(gradOutput);
        }

        public override string ToString() => "LiveTensorProbe";
    }
}
