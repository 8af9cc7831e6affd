using RelevanceSharp.Attribution;
using RelevanceSharp.Core;
using RelevanceSharp.Vision.Models;
using static TorchSharp.torch;

/// <summary>
/// <c>--vit</c>: torchvision's vit_b_16 (random weights, 224x224, float32) at the batches of <c>--batches</c> (1 and 8
/// unless given): the gradient, AttnLRP and CP-LRP with Epsilon, and both with Gamma (<c>conv_gamma=0.25</c>,
/// <c>linear_gamma=0.05</c>, LXT's example values), interleaved round by round. Each figure is also put against its
/// floor, the least time it can take here: for the Epsilon variants the gradient itself (Epsilon on a dense layer is
/// the gradient through the layer's own weights, the other rules of both composites are input times gradient); for the
/// Gamma variants the gradient with each dense layer's and the patch embedding's call swapped for the Gamma rule's
/// two (see <see cref="Floor.Work.TransformerGamma"/>). bench/reference/lxt_vit.py times LXT's rules on the same
/// architecture for the comparison.
/// </summary>
internal static class VitBench
{
    private static readonly (string Name, string Spec)[] Methods =
    {
        ("gradient", "gradient"),
        ("attnlrp", "attnlrp"),
        ("attnlrp_gamma", "attnlrp(conv_gamma=0.25,linear_gamma=0.05)"),
        ("cp_lrp", "cp_lrp"),
        ("cp_lrp_gamma", "cp_lrp(conv_gamma=0.25,linear_gamma=0.05)"),
    };

    public static void Run(BenchOptions options)
    {
        manual_seed(0);
        using ZooModel model = ModelZoo.Create("vit_b_16");
        model.eval();
        // torchvision starts the head at zero, which would make every gradient zero: random values, as in
        // bench/reference/lxt_vit.py.
        using (no_grad())
        {
            var head = (TorchSharp.Modules.Linear)model.named_modules().Single(m => m.name == "heads.head").module;
            nn.init.normal_(head.weight, std: 0.02);
        }
        var context = new AttributionContext { Target = AttributionTarget.Class(1) };
        Attributor[] attributors = Methods.Select(m => AttributionSpec.Parse(m.Spec).CreateAttributor(model, context)).ToArray();
        // --profile: where each composite's rules spend their time instead of the timings.
        if (options.Profile)
        {
            using Tensor input = randn(new long[] { options.Batches[0], 3, 224, 224 }, generator: new Generator(1));
            for (int i = 1; i < Methods.Length; i++)
            {
                PrintProfile(Methods[i].Name, attributors[i], input);
            }
            return;
        }
        var summary = new List<string>();
        foreach (int batch in options.Batches)
        {
            Memory.ResetPeak();
            using Tensor input = randn(new long[] { batch, 3, 224, 224 }, generator: new Generator((ulong)batch));
            double gradientFloor = Enumerable.Range(0, 3).Min(_ => Timer.Once(() => attributors[0].Attribute(input).Dispose()));
            var gradientLayers = new Floor.Replay(Floor.Work.Gradient);
            gradientLayers.Run(model, input);
            var gammaLayers = new Floor.Replay(Floor.Work.TransformerGamma);
            gammaLayers.Run(model, input);
            double gammaFloor = gradientFloor - gradientLayers.Milliseconds + gammaLayers.Milliseconds;
            Console.WriteLine($"vit_b_16 b{batch} floor: gradient {gradientFloor:F0} ms, of which layer calls {gradientLayers.Milliseconds:F0} ms; " +
                $"layer calls with Gamma {gammaLayers.Milliseconds:F0} ms ({gammaLayers.NegativeShare:P0} of the input features of the " +
                $"dense layers and the patch embedding hold negative values), Gamma floor {gammaFloor:F0} ms");

            BenchOptions runOptions = batch == 1 ? options with { Repeats = Math.Max(options.Repeats, options.Quick ? 3 : 5) } : options;
            List<double>[] rounds = Timer.Rounds(runOptions,
                attributors.Select(a => (Func<double>)(() => a.Composite is null
                    ? Timer.Once(() => a.Attribute(input).Dispose())
                    : Timer.OnceScoped(a, input))).ToArray());
            double peak = Memory.PeakMegabytes();
            double[] floors = Methods.Select(m => m.Name.EndsWith("_gamma", StringComparison.Ordinal) ? gammaFloor : gradientFloor).ToArray();
            for (int i = 0; i < Methods.Length; i++)
            {
                string ratios = i == 0 ? "" : $" ({Timer.Ratios(rounds[i], rounds[0])} the gradient)";
                Console.WriteLine($"vit_b_16 b{batch} {Methods[i].Name,-13} {new Timing(rounds[i])}{ratios}, {rounds[i].Min() / floors[i]:F2}x its floor");
            }
            summary.Add($"vit_b_16 b{batch} " + string.Join(" ", Methods.Select((m, i) => $"{m.Name}_ms={rounds[i].Min():F0}")) + " " +
                string.Join(" ", Methods.Skip(1).Select((m, i) => $"{m.Name}_ratio={rounds[i + 1].Min() / rounds[0].Min():F2}")) + " " +
                string.Join(" ", Methods.Select((m, i) => $"{m.Name}_floor={rounds[i].Min() / floors[i]:F2}")) +
                $" peak_mb={peak:F0}");
        }
        foreach (string line in summary)
        {
            Console.WriteLine(line);
        }
    }

    /// <summary>Where one composite's rules spend their time, by kind of layer, and what the engine did.</summary>
    private static void PrintProfile(string name, Attributor attributor, Tensor input)
    {
        var counters = new EngineCounters();
        attributor.Composite!.Counters = counters;
        Timer.OnceScoped(attributor, input);
        counters.Reset();
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        TimeSpan cpuBefore = process.TotalProcessorTime;
        double total = Timer.OnceScoped(attributor, input);
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds;
        attributor.Composite.Counters = null;
        // encoder.layers.encoder_layer_3.self_attention.q -> self_attention.q
        static string Kind(string layer) => System.Text.RegularExpressions.Regex.Replace(layer, @"^encoder\.layers\.encoder_layer_\d+\.", "");
        var byKind = counters.RuleMilliseconds.GroupBy(p => Kind(p.Key)).Select(g => (Kind: g.Key, Ms: g.Sum(p => p.Value)))
            .OrderByDescending(k => k.Ms).Take(8);
        Console.WriteLine($"profile {name}: {total:F0} ms in all (processor time {cpu:F0} ms), rule steps {counters.RuleMilliseconds.Values.Sum():F0} ms: " +
            string.Join(", ", byKind.Select(k => $"{k.Kind} {k.Ms:F0} ms")) +
            $"; Gamma from the output {counters.GammaFromOutput}, sign-split calls {counters.SignSplitCalls}, layer calls {counters.LayerCalls}, " +
            $"stacked calls {counters.StackedCalls}, gradients {counters.Gradients}");
    }
}
