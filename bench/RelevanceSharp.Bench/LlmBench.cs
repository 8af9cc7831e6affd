using System.Globalization;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.Models;
using static TorchSharp.torch;

/// <summary>
/// <c>--llm</c>: a decoder of LLaMA 3.2 1B's shape (16 layers, hidden 2048, 32 query and 8 key/value heads, MLP 8192,
/// vocabulary 128,256, tied embeddings, LLaMA 3 rope scaling) with random weights, float32, one prompt of 128 random
/// tokens: the forward pass, the gradient, AttnLRP and CP-LRP of the predicted next token's logit at the last position,
/// interleaved round by round, with the peak resident memory of each. <c>--llm-layers N</c> keeps the first N layers
/// (a quick look); <c>--llm-tokens N</c> changes the prompt length. bench/reference/lxt_llama.py times LXT's rules on a
/// plain-PyTorch model of the same shape for the comparison.
/// </summary>
internal static class LlmBench
{
    public static DecoderConfig Llama32Shape(int layers) => new DecoderConfig
    {
        ModelType = "llama",
        VocabSize = 128256,
        HiddenSize = 2048,
        IntermediateSize = 8192,
        Layers = layers,
        AttentionHeads = 32,
        KeyValueHeads = 8,
        HeadDim = 64,
        RmsNormEps = 1e-5,
        RopeTheta = 500000.0,
        RopeScaling = new RopeScaling(RopeType.Llama3, 32.0, 1.0, 4.0, 8192),
        TieWordEmbeddings = true,
        MaxPositions = 131072,
    }.Validate();

    public static void Run(string[] args, BenchOptions options)
    {
        string? Value(string name)
        {
            int index = Array.IndexOf(args, name);
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
        }
        int layers = int.Parse(Value("--llm-layers") ?? "16", CultureInfo.InvariantCulture);
        int tokens = int.Parse(Value("--llm-tokens") ?? "128", CultureInfo.InvariantCulture);
        DecoderConfig config = Llama32Shape(layers);
        double before = Memory.ResidentMegabytes();
        manual_seed(0);
        using var model = new DecoderModel(config);
        foreach (var p in model.parameters())
        {
            p.requires_grad_(false);
        }
        double weights = Memory.ResidentMegabytes() - before;
        Console.WriteLine($"llm: LLaMA 3.2 1B shape with {layers} of 16 layers, {config.ParameterCount / 1e9:F3} B parameters, " +
            $"float32 weights {weights:F0} MB resident, prompt of {tokens} random tokens, {get_num_threads()} threads, " +
            $"{options.Warmup} warm-up + {options.Repeats} timed rounds");
        Tensor ids = randint(config.VocabSize, new long[] { 1, tokens }, generator: new Generator(1));
        int target;
        using (no_grad())
        {
            target = (int)model.Logits(ids)[0, -1].argmax().item<long>();
        }
        var methods = new (string Name, TextMethod Method)[]
        {
            ("gradient", TextMethod.Gradient),
            ("attnlrp", DecoderComposites.Method("attnlrp")),
            ("cp_lrp", DecoderComposites.Method("cp_lrp")),
        };
        var peaks = new double[methods.Length + 1];
        var cpu = Enumerable.Range(0, methods.Length + 1).Select(_ => new List<double>()).ToArray();
        double resident = Memory.ResidentMegabytes();
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        // Processor time beside wall-clock time: on a machine shared with other jobs it varies less.
        Func<double> Measure(int slot, Action run) => () =>
        {
            process.Refresh();
            TimeSpan start = process.TotalProcessorTime;
            double time = Timer.Once(run);
            process.Refresh();
            cpu[slot].Add((process.TotalProcessorTime - start).TotalMilliseconds);
            peaks[slot] = Math.Max(peaks[slot], Memory.PeakMegabytes());
            return time;
        };
        var measurements = new List<Func<double>>
        {
            Measure(0, () =>
            {
                using var noGrad = no_grad();
                model.Logits(ids).Dispose();
            }),
        };
        measurements.AddRange(methods.Select((m, i) => Measure(i + 1,
            () => TextExplainer.Attribute(model, ids, m.Method, new[] { tokens - 1 }, new[] { target }).Dispose())));
        List<double>[] rounds = Timer.Rounds(options, measurements.ToArray());
        string[] names = new[] { "forward" }.Concat(methods.Select(m => m.Name)).ToArray();
        for (int i = 0; i < names.Length; i++)
        {
            string ratio = i >= 2 ? $" ({Timer.Ratios(rounds[i], rounds[1])} the gradient)" : "";
            double cpuMin = cpu[i].Skip(options.Warmup).Min();
            string cpuRatio = i >= 2 ? $" ({cpuMin / cpu[1].Skip(options.Warmup).Min():F2}x)" : "";
            Console.WriteLine($"llm {names[i],-9} {new Timing(rounds[i])}{ratio}, processor time min {cpuMin:F0} ms{cpuRatio}, " +
                $"peak RSS so far {peaks[i]:F0} MB (+{peaks[i] - resident:F0} MB over the loaded model)");
        }
        Console.WriteLine($"llm summary layers={layers} tokens={tokens} " + string.Join(" ", names.Select((n, i) => $"{n}_ms={rounds[i].Min():F0}")) +
            $" attnlrp_ratio={rounds[2].Min() / rounds[1].Min():F2} cp_lrp_ratio={rounds[3].Min() / rounds[1].Min():F2} peak_mb={peaks.Max():F0}");
    }
}
