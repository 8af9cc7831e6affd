using System.Globalization;
using RelevanceSharp.IO;
using RelevanceSharp.Language.IO;
using RelevanceSharp.Language.Models;
using RelevanceSharp.Language.Tokenization;
using RelevanceSharp.Platform;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Language.Demo;

/// <summary>
/// The demo language model: a small LLaMA-layout decoder (2 layers, 4 query and 2 key/value heads, SwiGLU MLP, rotary
/// embedding) trained on the key-value recall task (<see cref="RecallTask"/>), saved as a Hugging Face folder
/// (<c>config.json</c>, <c>model.safetensors</c>, <c>tokenizer.json</c>) so that every part of the loading and explaining
/// path runs on it.
/// </summary>
public static class TextDemoModel
{
    static TextDemoModel() => CpuGuard.Ensure();

    /// <summary>The folder under the demo assets that holds the text model.</summary>
    public const string FolderName = "text";

    /// <summary>How the demo model is trained.</summary>
    /// <param name="Steps">Optimizer steps.</param>
    /// <param name="Batch">Prompts per step.</param>
    /// <param name="LearningRate">Adam's peak learning rate (linear warm-up over the first 5% of steps, then cosine decay).</param>
    /// <param name="Seed">The seed of weights and prompts.</param>
    public sealed record TrainingOptions(int Steps = 1500, int Batch = 32, double LearningRate = 3e-3, int Seed = 7);

    /// <summary>
    /// The shipped demo folder: <c>demo/text</c> next to the executable (the command-line tool ships it there), or
    /// <c>assets/demo/text</c> in the current folder or one above it (a checkout of the repository).
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither holds the demo model.</exception>
    public static string FindFolder()
    {
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, "demo", FolderName) };
        for (DirectoryInfo? dir = new(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "assets", "demo", FolderName));
        }
        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, DecoderCheckpoint.WeightsFile)))
            ?? throw new FileNotFoundException(
                $"The text demo model was not found in {string.Join(" or ", candidates.Take(2))}; rebuild the command-line tool or run " +
                "'relevance train-demo --model text'.");
    }

    /// <summary>The demo model's architecture for a vocabulary of <paramref name="vocabulary"/> ids.</summary>
    public static DecoderConfig Config(int vocabulary) => new DecoderConfig
    {
        ModelType = "llama",
        VocabSize = vocabulary,
        HiddenSize = 64,
        IntermediateSize = 128,
        Layers = 2,
        AttentionHeads = 4,
        KeyValueHeads = 2,
        HeadDim = 16,
        RmsNormEps = 1e-5,
        RopeTheta = 10000.0,
        MaxPositions = 64,
        StoredDtype = "float32",
    }.Validate();

    /// <summary>The demo tokenizer.</summary>
    public static TextTokenizer Tokenizer() => TextTokenizer.FromTokenizerJsonText(DemoTokenizer.Json());

    /// <summary>The ids of a batch of prompts (batch, tokens) and the id of each answer.</summary>
    public static (Tensor Ids, long[] Answers) Batch(TextTokenizer tokenizer, IReadOnlyList<RecallPrompt> prompts)
    {
        var ids = new List<long>();
        var answers = new long[prompts.Count];
        int length = -1;
        for (int i = 0; i < prompts.Count; i++)
        {
            IReadOnlyList<int> encoded = tokenizer.EncodeIds(prompts[i].Text);
            if (length >= 0 && encoded.Count != length)
            {
                throw new InvalidOperationException($"The prompt '{prompts[i].Text}' has {encoded.Count} tokens, the others {length}.");
            }
            length = encoded.Count;
            ids.AddRange(encoded.Select(x => (long)x));
            answers[i] = tokenizer.EncodeIds(prompts[i].Answer, addBeginning: false).Single();
        }
        return (tensor(ids.ToArray(), new long[] { prompts.Count, length }), answers);
    }

    /// <summary>
    /// Trains a fresh demo model; <paramref name="report"/> receives a line now and then. Returns the model (float32,
    /// eval mode) and its accuracy on <paramref name="testPrompts"/> prompts it never saw.
    /// </summary>
    public static (DecoderModel Model, double Accuracy) Train(TrainingOptions options, int testPrompts = 1000, Action<string>? report = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Steps < 1 || options.Batch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Training needs at least one step and one prompt per step.");
        }
        TextTokenizer tokenizer = Tokenizer();
        manual_seed(options.Seed);
        var model = new DecoderModel(Config(tokenizer.IdCount));
        var task = new RecallTask(options.Seed);
        var queryRandom = new Random(options.Seed);
        var optimizer = optim.Adam(model.parameters(), lr: options.LearningRate, weight_decay: 0.0);
        int warmup = Math.Max(1, options.Steps / 20);
        double recent = double.NaN;
        model.train();
        for (int step = 0; step < options.Steps; step++)
        {
            using var scope = NewDisposeScope();
            double rate = step < warmup
                ? options.LearningRate * (step + 1) / warmup
                : options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * (step - warmup) / Math.Max(1, options.Steps - warmup)));
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = rate;
            }
            var (ids, positions) = TrainingBatch(tokenizer, task, options.Batch, queryRandom);
            Tensor logits = model.Logits(ids[.., ..^1]).index_select(1, positions);
            Tensor answers = ids.index_select(1, positions.add(Scalars.Of(1), Scalars.One));
            Tensor loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), answers.reshape(-1));
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            double value = loss.item<float>();
            recent = double.IsNaN(recent) ? value : 0.95 * recent + 0.05 * value;
            if (report is not null && ((step + 1) % 250 == 0 || step + 1 == options.Steps))
            {
                report(string.Create(CultureInfo.InvariantCulture, $"step {step + 1,5}/{options.Steps}  loss {recent:F4}  learning rate {rate:G3}"));
            }
        }
        model.eval();
        foreach (var p in model.parameters())
        {
            p.requires_grad_(false);
        }
        return (model, Accuracy(model, tokenizer, new RecallTask(options.Seed + 1_000_003).Take(testPrompts)));
    }

    /// <summary>Queries per training sequence: after the prompt's own query and its answer, further queries follow.</summary>
    private const int TrainingQueries = 6;

    // Training sequences continue each prompt with its answer and more queries and answers ("| dog 7 cat 3 owl 1"):
    // the loss at every query gives several answers per sequence, and the prompts the model is asked about are the
    // sequences' beginnings up to the first query.
    private static (Tensor Ids, Tensor Positions) TrainingBatch(TextTokenizer tokenizer, RecallTask task, int size, Random random)
    {
        var ids = new List<long>();
        int length = -1;
        for (int i = 0; i < size; i++)
        {
            RecallPrompt prompt = task.Next();
            int[] more = Enumerable.Range(0, prompt.Keys.Count).Where(k => k != prompt.Query).OrderBy(_ => random.Next()).Take(TrainingQueries - 1).ToArray();
            string text = prompt.Text + prompt.Answer + string.Concat(more.Select(k =>
                string.Create(CultureInfo.InvariantCulture, $" {prompt.Keys[k]} {prompt.Values[k]}")));
            IReadOnlyList<int> encoded = tokenizer.EncodeIds(text);
            length = length < 0 ? encoded.Count : length == encoded.Count ? length : throw new InvalidOperationException("Training sequences differ in length.");
            ids.AddRange(encoded.Select(x => (long)x));
        }
        int first = task.Tokens - 1;
        long[] positions = Enumerable.Range(0, TrainingQueries).Select(q => (long)(first + 2 * q)).ToArray();
        return (tensor(ids.ToArray(), new long[] { size, length }), tensor(positions));
    }

    /// <summary>The share of prompts whose answer the model predicts (the highest logit at the last position).</summary>
    public static double Accuracy(DecoderModel model, TextTokenizer tokenizer, IReadOnlyList<RecallPrompt> prompts)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        int correct = 0;
        for (int start = 0; start < prompts.Count; start += 256)
        {
            using var scope = NewDisposeScope();
            var (ids, answers) = Batch(tokenizer, prompts.Skip(start).Take(256).ToArray());
            using var _ = no_grad();
            long[] predicted = model.Logits(ids)[.., -1].argmax(-1).data<long>().ToArray();
            correct += predicted.Zip(answers).Count(p => p.First == p.Second);
        }
        return prompts.Count == 0 ? 0 : (double)correct / prompts.Count;
    }

    /// <summary>Writes the model as a Hugging Face folder: config.json, model.safetensors (float32) and tokenizer.json.</summary>
    public static void Save(DecoderModel model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(folder);
        AtomicFile.Write(Path.Combine(folder, DecoderCheckpoint.ConfigFile), System.Text.Encoding.UTF8.GetBytes(model.Config.ToHuggingFaceJson()));
        SafeTensors.Save(Path.Combine(folder, DecoderCheckpoint.WeightsFile),
            model.ExpectedWeights().Keys.Select(k => new KeyValuePair<string, Tensor>(k, model.named_parameters().First(p => p.name == k).parameter)),
            new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.Write(Path.Combine(folder, TextTokenizer.TokenizerJsonFile), System.Text.Encoding.UTF8.GetBytes(DemoTokenizer.Json()));
    }
}
