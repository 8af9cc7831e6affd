using System.Diagnostics;
using System.Globalization;
using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Platform;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

// Timings of LRP against the plain gradient on full-size models with random weights. Speed does not depend on the
// weights' values, but it does depend on the signs of the layer inputs, which the batch norms' statistics decide
// (a ThreshReLU's output is negative below a negative threshold): unless --default-statistics is given, the batch
// norms get random affine parameters and running statistics measured on random images, so that thresholds take both
// signs as in a trained network. With the default statistics (mean 0, variance 1, weight 1, bias 0) every threshold
// is 0 and LRP looks faster than it is on a trained DenseNet.
// Usage: dotnet run -c Release --project bench/RelevanceSharp.Bench -- [--quick] [--models densenet121,resnet50,vgg16_bn]
//        [--batches 1,8] [--threads N] [--skip-throughput] [--skip-memory] [--default-allocator] [--default-statistics]
//        [--floor] (also the least time each composite can take, see Floor.cs, and each figure's ratio to it)
//        [--profile] (also where each composite's backward pass spends its time beyond its floor, layer by layer)
//        [--channels-last] (inputs and convolution weights in channels-last memory layout)
//        [--evaluation] (instead of the timings: images per second of 'relevance evaluate --dataset', see EvaluationRate.cs)
//        [--llm [--llm-layers N] [--llm-tokens N]] (instead: a decoder of LLaMA 3.2 1B's shape, see LlmBench.cs)
//        [--vit] (instead: torchvision's vit_b_16 with AttnLRP and CP-LRP at the --batches, see VitBench.cs)
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var options = BenchOptions.Parse(args);
// Before any tensor work, as in the relevance command: on a processor without cache topology the guard caps oneDNN
// (RELEVANCESHARP_CPU_GUARD=on forces it, to measure its cost on a sound host).
CpuGuardDecision guard = CpuGuard.Ensure();
if (guard.Notice is { } notice)
{
    Console.Error.WriteLine(notice);
}
set_num_threads(options.Threads);
// As the relevance command does; --default-allocator leaves glibc's settings alone to show what they cost.
bool keepsMemory = !options.DefaultAllocator && NativeAllocator.KeepFreedMemory();
Console.WriteLine($"RelevanceSharp benchmark: {(options.Quick ? "quick" : "full")}, {get_num_threads()} threads, " +
    $"{Environment.ProcessorCount} logical cores, float32, 224x224, {options.Warmup} warm-up + {options.Repeats} timed rounds each (at least {(options.Quick ? 3 : 5)} at batch 1), " +
    $"freed native memory {(keepsMemory ? "kept for reuse" : "returned to the system (default glibc settings)")}, " +
    $"batch-norm statistics {(options.DefaultStatistics ? "at their defaults (every ThreshReLU threshold 0)" : "measured on random images, random affine parameters")}, " +
    $"CPU guard {(guard.Engaged ? $"engaged ({(guard.IsaCap is { } cap ? $"oneDNN capped at {cap}" : guard.DisableMkldnn ? "oneDNN off" : "user's oneDNN cap")})" : "not engaged")}, " +
    $"MKL kernels {(CpuGuard.Mkl?.IntelKernels == true ? "chosen by instruction set (AMD processor)" : "MKL's own choice")}");

if (args.Contains("--llm"))
{
    LlmBench.Run(args, options);
    return;
}

if (args.Contains("--vit"))
{
    VitBench.Run(options);
    return;
}

if (options.Evaluation)
{
    EvaluationRate.Run(options);
    return;
}

var summary = new List<string>();
foreach (string name in options.Models)
{
    string canonizer = BenchModels.CanonizerFor(name);
    using ZooModel model = BenchModels.Create(name, options);
    foreach (int batch in options.Batches)
    {
        Floor.Result? floor = options.Floor || options.Profile ? Floor.Measure(model, canonizer, BenchModels.Input(batch, options)) : null;
        if (floor is not null)
        {
            Console.WriteLine(floor.Describe(name, batch));
        }
        // Batch 1 runs are short and the most exposed to a noisy machine: more of them for the minimum.
        BenchOptions runOptions = batch == 1 ? options with { Repeats = Math.Max(options.Repeats, options.Quick ? 3 : 5) } : options;
        Memory.ResetPeak();
        Tensor input = BenchModels.Input(batch, options);
        // The attributors as every caller builds them: one spec, one factory.
        var context = new AttributionContext { Target = AttributionTarget.Class(1) };
        Attributor plain = AttributionSpec.Parse("gradient").CreateAttributor(model, context);
        Attributor box = AttributionSpec.Parse($"epsilon_gamma_box(low=-3,high=3)+{canonizer}").CreateAttributor(model, context);
        Attributor flat = AttributionSpec.Parse($"epsilon_plus_flat+{canonizer}").CreateAttributor(model, context);
        // Interleaved: each round times all four, so that a slow phase of a shared machine hits all of them alike.
        // Each LRP call runs in a scope of its attributor opened just before it: the composite and its canonizer
        // are applied outside the timed call, as in zennit's figures, where they are registered once.
        List<double>[] rounds = Timer.Rounds(runOptions,
            () => Timer.Once(() =>
            {
                using var noGrad = no_grad();
                model.call(input).Dispose();
            }),
            () => Timer.Once(() => plain.Attribute(input).Dispose()),
            () => Timer.OnceScoped(box, input),
            () => Timer.OnceScoped(flat, input));
        var (forward, gradient, lrpBox, lrpFlat) = (new Timing(rounds[0]), new Timing(rounds[1]), new Timing(rounds[2]), new Timing(rounds[3]));
        double peak = Memory.PeakMegabytes();
        Console.WriteLine($"{name} batch {batch} ({canonizer}): forward {forward}, gradient {gradient}, " +
            $"EpsilonGammaBox {lrpBox} ({Timer.Ratios(rounds[2], rounds[1])}), EpsilonPlusFlat {lrpFlat} ({Timer.Ratios(rounds[3], rounds[1])}), " +
            $"peak RSS {peak:F0} MB");
        summary.Add($"{name} b{batch} gradient_ms={gradient.Min:F0} egb_ms={lrpBox.Min:F0} epf_ms={lrpFlat.Min:F0} " +
            $"egb_ratio={lrpBox.Min / gradient.Min:F2} epf_ratio={lrpFlat.Min / gradient.Min:F2}" +
            (floor is null ? "" : $" egb_floor={lrpBox.Min / floor.BoxFloor:F2} epf_floor={lrpFlat.Min / floor.FlatFloor:F2}"));
        if (options.Profile && floor is not null)
        {
            Profile.Print(name, batch, (box, floor.Box), (flat, floor.Flat), input);
        }
        input.Dispose();
    }
}

if (!options.SkipThroughput)
{
    Throughput.Run(options);
}
if (!options.SkipMemory)
{
    Throughput.MemoryOverManyImages(options);
}

foreach (string line in summary)
{
    Console.WriteLine(line);
}

/// <summary>Command-line settings of the benchmark.</summary>
internal sealed record BenchOptions(bool Quick, IReadOnlyList<string> Models, IReadOnlyList<int> Batches, int Threads,
    int Warmup, int Repeats, bool SkipThroughput, bool SkipMemory, bool DefaultAllocator, bool DefaultStatistics, bool Floor,
    bool Evaluation, bool Profile = false, bool ChannelsLast = false)
{
    public static BenchOptions Parse(string[] args)
    {
        bool quick = args.Contains("--quick");
        string? Value(string name)
        {
            int index = Array.IndexOf(args, name);
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
        }
        var models = (Value("--models") ?? "densenet121,resnet50,vgg16_bn").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var batches = (Value("--batches") ?? "1,8").Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray();
        int threads = int.Parse(Value("--threads") ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return new BenchOptions(quick, models, batches, threads, Warmup: 1, Repeats: quick ? 2 : 5,
            args.Contains("--skip-throughput"), args.Contains("--skip-memory"), args.Contains("--default-allocator"),
            args.Contains("--default-statistics"), args.Contains("--floor"), args.Contains("--evaluation"), args.Contains("--profile"),
            args.Contains("--channels-last"));
    }
}

/// <summary>Minimum and median of repeated runs, in milliseconds.</summary>
internal sealed record Timing(double Min, double Median)
{
    public Timing(IReadOnlyList<double> times)
        : this(times.Min(), Timer.Median(times))
    {
    }

    public override string ToString() => $"min {Min:F0} ms / median {Median:F0} ms";
}

internal static class Timer
{
    /// <summary>
    /// Runs every measurement once per round, <see cref="BenchOptions.Warmup"/> untimed rounds first; returns the
    /// times of the timed rounds, one list per measurement.
    /// </summary>
    public static List<double>[] Rounds(BenchOptions options, params Func<double>[] measurements)
    {
        var times = measurements.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < options.Warmup + options.Repeats; round++)
        {
            for (int i = 0; i < measurements.Length; i++)
            {
                double elapsed = measurements[i]();
                if (round >= options.Warmup)
                {
                    times[i].Add(elapsed);
                }
            }
        }
        return times;
    }

    /// <summary>
    /// Times one call of an attributor inside a scope opened (and closed) outside the timed call. The scope's
    /// canonizers rewrite the model at its first forward pass, after tracing it and checking the rewrite on the first
    /// sample; that pass runs untimed on the first sample alone.
    /// </summary>
    public static double OnceScoped(Attributor attributor, Tensor input)
    {
        using (attributor.Scope())
        {
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                attributor.Model.call(input.narrow(0, 0, 1));
            }
            return Once(() => attributor.Attribute(input).Dispose());
        }
    }

    /// <summary>One timed call in its own dispose scope, in milliseconds.</summary>
    public static double Once(Action run)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        run();
        return clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>The ratio of the minima and the median of the per-round ratios.</summary>
    public static string Ratios(IReadOnlyList<double> times, IReadOnlyList<double> baseline) =>
        $"{times.Min() / baseline.Min():F2}x, per round median {Median(times.Zip(baseline, (a, b) => a / b).ToList()):F2}x";

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[sorted.Count / 2];
    }
}

internal static class Memory
{
    /// <summary>Resident memory now, in megabytes (from /proc/self/status).</summary>
    public static double ResidentMegabytes() => Read("VmRSS:");

    /// <summary>Peak resident memory since the last reset, in megabytes.</summary>
    public static double PeakMegabytes() => Read("VmHWM:");

    /// <summary>Resets the peak (writing 5 to /proc/self/clear_refs), where the kernel allows it.</summary>
    public static void ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static double Read(string key)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                string[] parts = line[key.Length..].Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                return double.Parse(parts[0], CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        return double.NaN;
    }
}

internal static class Throughput
{
    /// <summary>Images per second of EpsilonPlusFlat on resnet50 at batch 1 and batch 8.</summary>
    public static void Run(BenchOptions options)
    {
        int images = options.Quick ? 16 : 64;
        using ZooModel model = BenchModels.Create("resnet50", options);
        Attributor attributor = AttributionSpec.Parse("epsilon_plus_flat+resnet").CreateAttributor(model, new AttributionContext { Target = AttributionTarget.Predicted });
        using (attributor.Scope())
        {
            double single = Rate(attributor, images, 1);
            double batched = Rate(attributor, images, 8);
            Console.WriteLine($"throughput resnet50 EpsilonPlusFlat: batch 1 {single:F2} images/s, batch 8 {batched:F2} images/s ({batched / single:F2}x)");
        }
    }

    private static double Rate(Attributor attributor, int images, int batch)
    {
        using (var scope = NewDisposeScope())
        {
            attributor.Attribute(randn(batch, 3, 224, 224)).Dispose();
        }
        var clock = Stopwatch.StartNew();
        for (int done = 0; done < images; done += batch)
        {
            using var scope = NewDisposeScope();
            attributor.Attribute(randn(batch, 3, 224, 224)).Dispose();
        }
        return images / clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Resident memory while attributing 1,000 images in batches of 8 (resnet18, EpsilonPlusFlat; 112x112, or 64x64
    /// with --quick: the size does not change whether memory stays flat).
    /// </summary>
    public static void MemoryOverManyImages(BenchOptions options)
    {
        const int images = 1000;
        const int batch = 8;
        int size = options.Quick ? 64 : 112;
        using ZooModel model = ModelZoo.Create("resnet18");
        model.eval();
        Attributor attributor = AttributionSpec.Parse("epsilon_plus_flat+resnet").CreateAttributor(model, new AttributionContext { Target = AttributionTarget.Predicted });
        var samples = new List<(int Images, double Megabytes)>();
        var clock = Stopwatch.StartNew();
        using (attributor.Scope())
        {
            for (int done = 0; done < images; done += batch)
            {
                using (var scope = NewDisposeScope())
                {
                    attributor.Attribute(randn(batch, 3, size, size)).Dispose();
                }
                if (done % 200 == 0 || done + batch >= images)
                {
                    samples.Add((Math.Min(done + batch, images), Memory.ResidentMegabytes()));
                }
            }
        }
        Console.WriteLine($"memory over {images} images (resnet18 {size}x{size}, batch {batch}, {clock.Elapsed.TotalSeconds:F0} s): " +
            string.Join(", ", samples.Select(s => $"{s.Images}: {s.Megabytes:F0} MB")) +
            $"; growth after the first batch {samples[^1].Megabytes - samples[0].Megabytes:F0} MB");
    }
}

/// <summary>Where the composites' backward passes spend their time beyond the floor, layer by layer (<c>--profile</c>).</summary>
internal static class Profile
{
    public static void Print(string name, int batch, (Attributor Attributor, Floor.Replay Floor) box, (Attributor Attributor, Floor.Replay Floor) flat,
        Tensor input)
    {
        foreach (var (label, (attributor, floor)) in new[] { ("EpsilonGammaBox", box), ("EpsilonPlusFlat", flat) })
        {
            Composite composite = attributor.Composite!;
            var counters = new EngineCounters();
            composite.Counters = counters;
            Timer.OnceScoped(attributor, input);
            counters.Reset();
            Timer.OnceScoped(attributor, input);
            composite.Counters = null;
            double total = counters.RuleMilliseconds.Values.Sum();
            double floorTotal = floor.PerLayer.Values.Sum();
            var excess = counters.RuleMilliseconds
                .Select(p => (Layer: p.Key, Ms: p.Value, Floor: floor.PerLayer.GetValueOrDefault(p.Key)))
                .OrderByDescending(p => p.Ms - p.Floor).Take(6);
            Console.WriteLine($"profile {name} b{batch} {label}: rule steps {total:F0} ms against layer floors {floorTotal:F0} ms; " +
                "largest excess: " + string.Join(", ", excess.Select(e => $"{e.Layer} {e.Ms:F0} ms (floor {e.Floor:F0})")));
        }
    }
}

/// <summary>The models the benchmark times: built, calibrated and named with their canonizer in one place.</summary>
internal static class BenchModels
{
    /// <summary>A zoo model in eval mode, its batch norms calibrated unless the options keep their defaults.</summary>
    public static ZooModel Create(string name, BenchOptions options)
    {
        ZooModel model = ModelZoo.Create(name);
        if (!options.DefaultStatistics)
        {
            MakeTrainedLike(model);
        }
        model.eval();
        if (options.ChannelsLast)
        {
            ToChannelsLast(model);
        }
        return model;
    }

    /// <summary>A random input batch, in the memory layout the options ask for.</summary>
    public static Tensor Input(int batch, BenchOptions options)
    {
        Tensor input = randn(batch, 3, 224, 224);
        return options.ChannelsLast ? ChannelsLast(input) : input;
    }

    /// <summary>
    /// The same values with channels-last strides (N, H, W, C in memory, still indexed N, C, H, W): TorchSharp has no
    /// memory-format argument, so the layout is made by a permuted copy.
    /// </summary>
    public static Tensor ChannelsLast(Tensor t)
    {
        long[] shape = t.shape;
        long[] strides = { shape[1] * shape[2] * shape[3], 1, shape[3] * shape[1], shape[1] };
        Tensor result = empty_strided(shape, strides, t.dtype, t.device);
        using (no_grad())
        {
            result.copy_(t);
        }
        return result;
    }

    /// <summary>Gives every 2-d convolution weight channels-last strides (libtorch then keeps activations so).</summary>
    public static void ToChannelsLast(nn.Module model)
    {
        using var noGrad = no_grad();
        foreach (var conv in model.modules().OfType<TorchSharp.Modules.Conv2d>())
        {
            conv.weight = new TorchSharp.Modules.Parameter(ChannelsLast(conv.weight!).DetachFromDisposeScope());
        }
    }

    /// <summary>The canonizer the issue names for each model family.</summary>
    public static string CanonizerFor(string name) =>
        name.StartsWith("densenet", StringComparison.Ordinal) ? "densenet_seq_thresh"
        : name.StartsWith("resnet", StringComparison.Ordinal) ? "resnet" : "vgg";

    /// <summary>
    /// Gives every batch norm a random weight (uniform in [0.5, 1.5]) and bias (normal, standard deviation 0.5) and
    /// running statistics measured in training mode on random images, layer by layer as they flow through the model.
    /// Seeded: every run times the same model.
    /// </summary>
    public static void MakeTrainedLike(nn.Module<Tensor, Tensor> model)
    {
        var norms = model.modules().OfType<TorchSharp.Modules.BatchNorm>().ToList();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        foreach (var norm in norms)
        {
            norm.weight!.copy_(rand(norm.weight.shape, generator: generator).add_(Scalars.Of(0.5), Scalars.One));
            norm.bias!.copy_(randn(norm.bias.shape, generator: generator).mul_(Scalars.Of(0.5)));
            norm.reset_running_stats();
            // A cumulative average over the calibration batches instead of a moving one.
            norm.momentum = null;
        }
        model.train();
        for (int i = 0; i < 2; i++)
        {
            model.call(randn(new long[] { 4, 3, 224, 224 }, generator: generator));
        }
        model.eval();
        foreach (var norm in norms)
        {
            norm.momentum = 0.1;
        }
    }
}
