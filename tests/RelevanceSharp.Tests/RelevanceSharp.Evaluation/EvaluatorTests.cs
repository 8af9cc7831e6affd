using RelevanceSharp.Attribution;
using RelevanceSharp.Evaluation;
using RelevanceSharp.Tests.Engine;
using RelevanceSharp.Vision.Imaging;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>Comparing several configurations on a small net, and the report's table, CSV files and plot.</summary>
public sealed class EvaluatorTests : IDisposable
{
    private static readonly string[] Configs = { "gradient", "epsilon_plus_flat", "smoothgrad(iterations=2)", "integrated_gradients(iterations=3)" };
    private readonly string folder = Path.Combine(Path.GetTempPath(), "rs-eval-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static EvaluationReport Run(Sequential model, Tensor inputs, RandomizationSettings? randomization, List<EvaluationProgress>? log = null)
    {
        var options = new EvaluationOptions
        {
            Perturbation = new PerturbationSettings { PatchSize = 2, RandomOrders = 2, BatchSize = 5 },
            Randomization = randomization,
            AttributionBatchSize = 2,
        };
        var progress = log is null ? null : new Recorder(log);
        return Evaluator.Run(model, inputs, Configs.Select(AttributionSpec.Parse).ToList(), options: options, progress: progress);
    }

    [Fact]
    public void EveryConfigurationIsComparedAgainstOneControl()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(51);
        model.eval();
        Tensor inputs = TestNets.Input(52, batch: 3);
        var log = new List<EvaluationProgress>();
        EvaluationReport report = Run(model, inputs, new RandomizationSettings(), log);

        Assert.Equal(Configs, report.Configurations.Select(c => c.Config.Name));
        Assert.Equal(4, report.Steps);
        Assert.Equal(Evaluator.Predict(model, inputs), report.Targets);
        Assert.All(report.Configurations, c =>
        {
            Assert.Same(report.Random, c.Perturbation.Random);
            Assert.Equal(3, c.Perturbation.MostRelevantFirst.Images);
            Assert.Equal(4, c.Randomization!.Steps.Count);
        });
        // Progress ends every stage: attribution and randomization of each configuration, then the perturbation.
        var finished = log.Where(p => p.Done == p.Total).Select(p => p.Stage).Distinct().ToList();
        Assert.Equal(2 * Configs.Length + 1, finished.Count);
        Assert.Equal("gradient (1/4): attribution and metrics", finished[0]);
        Assert.Equal("gradient (1/4): randomization", finished[1]);
        Assert.Equal("perturbation, baseline zeros (1/1)", finished[^1]);

        string table = report.FormatTable();
        foreach (string config in Configs)
        {
            Assert.Contains(config, table, StringComparison.Ordinal);
        }
        Assert.Contains("AOPC (MoRF)", table, StringComparison.Ordinal);
        Assert.Contains("AOPC (LeRF)", table, StringComparison.Ordinal);
        Assert.Contains("ABPC", table, StringComparison.Ordinal);
        Assert.Contains("rand. rho (all)", table, StringComparison.Ordinal);
        Assert.Contains("3 images of 4x4, 4 patches of 2x2, 4 steps", report.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void TheFilesHoldOneRowPerConfigurationAndStep()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(53);
        model.eval();
        EvaluationReport report = Run(model, TestNets.Input(54, batch: 3), new RandomizationSettings { MaxLayers = 2 });
        IReadOnlyList<string> written = report.WriteAll(folder);
        Assert.Equal(new[] { "perturbation.csv", "perturbation_curves.csv", "per_image.csv", "perturbation_zeros.png", "randomization.csv" },
            written.Select(Path.GetFileName));

        string[] perturbation = File.ReadAllLines(Path.Combine(folder, "perturbation.csv"));
        Assert.Equal("configuration,baseline,step,fraction_perturbed,morf_mean,morf_standard_error,lerf_mean,lerf_standard_error,random_mean,random_standard_error",
            perturbation[0]);
        Assert.Equal(1 + Configs.Length * 5, perturbation.Length);
        Assert.Contains(perturbation, line => line.StartsWith("integrated_gradients(iterations=3),zeros,4,1,", StringComparison.Ordinal));
        string[] first = perturbation[1].Split(',');
        Assert.Equal(("gradient", "zeros", "0", "0"), (first[0], first[1], first[2], first[3]));
        Assert.Equal(report.Configurations[0].Perturbation.MostRelevantFirst.MeanCurve[0].Mean, double.Parse(first[4], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(report.Configurations[0].Perturbation.LeastRelevantFirst.MeanCurve[0].Mean, double.Parse(first[6], System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(1 + Configs.Length * 3 * 3 * 5, File.ReadAllLines(Path.Combine(folder, "perturbation_curves.csv")).Length);
        string[] perImage = File.ReadAllLines(Path.Combine(folder, "per_image.csv"));
        Assert.Equal("image,label,target,configuration,baseline,morf_aopc,lerf_aopc,abpc,random_aopc,infidelity,sensitivity_max,sparseness,complexity",
            perImage[0]);
        Assert.Equal(1 + Configs.Length * 3, perImage.Length);
        string[] row = perImage[2].Split(',');
        Assert.Equal(("image 1", "", report.Targets[1].ToString(System.Globalization.CultureInfo.InvariantCulture), "gradient"), (row[0], row[1], row[2], row[3]));
        Assert.Equal(report.Configurations[0].Perturbation.Abpc[1], double.Parse(row[7], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(report.Configurations[0].Metrics!.Complexity[1], double.Parse(row[12], System.Globalization.CultureInfo.InvariantCulture));
        string[] randomization = File.ReadAllLines(Path.Combine(folder, "randomization.csv"));
        Assert.Equal(1 + Configs.Length * 2, randomization.Length);
        Assert.StartsWith("gradient,1,7,", randomization[1], StringComparison.Ordinal);

        using Tensor plot = ImageIO.Load(Path.Combine(folder, "perturbation_zeros.png"));
        Assert.Equal(new long[] { 3, 600, 1500 }, plot.shape);
    }

    [Fact]
    public void EveryBaselinePerturbsTheSameAttributions()
    {
        using var scope = NewDisposeScope();
        var (model, inputs) = (TestNets.ConvReLUNet(59), TestNets.Input(60, batch: 3));
        model.eval();
        var configs = new[] { AttributionSpec.Parse("epsilon_plus_flat"), UniformNoiseAttribution.Control };
        var settings = new PerturbationSettings { PatchSize = 2, RandomOrders = 2, BatchSize = 5 };
        EvaluationReport both = Evaluator.Run(model, inputs, configs, options: new EvaluationOptions
        {
            Perturbation = settings,
            Baselines = [PerturbationBaseline.Zeros, PerturbationBaseline.Blur(1.0)],
            Randomization = null,
        });
        Assert.Equal(new[] { "zeros", "blur(sigma=1)" }, both.Baselines);
        Assert.Equal("perturbation_blur_sigma_1.png", both.PlotFileName(1));
        Assert.Contains("baseline blur(sigma=1):", both.FormatTable(), StringComparison.Ordinal);
        Assert.Contains("baselines zeros and blur(sigma=1)", both.Describe(), StringComparison.Ordinal);
        foreach (var (baseline, index) in new[] { (PerturbationBaseline.Zeros, 0), (PerturbationBaseline.Blur(1.0), 1) })
        {
            EvaluationReport alone = Evaluator.Run(model, inputs, configs,
                options: new EvaluationOptions { Perturbation = settings with { Baseline = baseline }, Randomization = null });
            for (int c = 0; c < configs.Length; c++)
            {
                PerturbationResult expected = alone.Configurations[c].Perturbation, actual = both.Configurations[c].PerBaseline[index];
                Assert.Equal(expected.Baseline, actual.Baseline);
                for (int i = 0; i < 3; i++)
                {
                    AssertClose(expected.MostRelevantFirst.PerImage[i].ToArray(), actual.MostRelevantFirst.PerImage[i].ToArray(), 1e-12, "MoRF");
                    AssertClose(expected.LeastRelevantFirst.PerImage[i].ToArray(), actual.LeastRelevantFirst.PerImage[i].ToArray(), 1e-12, "LeRF");
                    AssertClose(expected.Random.PerImage[i].ToArray(), actual.Random.PerImage[i].ToArray(), 1e-12, "random");
                }
            }
        }
    }

    [Fact]
    public void WithoutRandomizationThereIsNoRandomizationFile()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(55);
        model.eval();
        EvaluationReport report = Run(model, TestNets.Input(56, batch: 2), randomization: null);
        Assert.All(report.Configurations, c => Assert.Null(c.Randomization));
        Assert.DoesNotContain("rand. rho", report.FormatTable(), StringComparison.Ordinal);
        Assert.DoesNotContain(report.WriteAll(folder), path => path.EndsWith("randomization.csv", StringComparison.Ordinal));
    }

    [Fact]
    public void TheMeasuresWithoutBaselineAreThoseOfEachConfigurationsAttributions()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(61);
        model.eval();
        Tensor inputs = TestNets.Input(62, batch: 3);
        var infidelity = new InfidelitySettings { Samples = 3, Seed = 4 };
        var sensitivity = new SensitivitySettings { Samples = 2, Seed = 4 };
        EvaluationReport report = Evaluator.Run(model, inputs, [AttributionSpec.Parse("epsilon_plus_flat"), AttributionSpec.Parse("input_x_gradient")],
            options: new EvaluationOptions
            {
                Perturbation = new PerturbationSettings { PatchSize = 2 },
                Randomization = null,
                AttributionBatchSize = 2,
                Infidelity = infidelity,
                Sensitivity = sensitivity,
            });
        Assert.Equal(FaithfulnessMeasures.WithoutBaseline, report.MeasuresWithoutBaseline);
        foreach (ConfigurationResult result in report.Configurations)
        {
            Attributor attributor = result.Config.CreateAttributor(model);
            Tensor attributions = Evaluator.Attribute(attributor, inputs, report.Targets, batchSize: 3);
            AssertClose(Sparseness.Compute(attributions), result.Metrics!.Sparseness.ToArray(), 1e-12, "sparseness");
            AssertClose(Complexity.Compute(attributions), result.Metrics.Complexity.ToArray(), 1e-12, "complexity");
            AssertClose(Infidelity.Compute(model, inputs, attributions, report.Targets, infidelity), result.Metrics.Infidelity!.ToArray(), 1e-9, "infidelity");
            AssertClose(SensitivityMax.Compute(SensitivityMax.Of(attributor), inputs, attributions, report.Targets, sensitivity),
                result.Metrics.Sensitivity!.ToArray(), 1e-9, "sensitivity");
        }
        string table = report.FormatTable();
        Assert.Contains("measures without baseline:", table, StringComparison.Ordinal);
        Assert.Contains("infidelity (lower better)", table, StringComparison.Ordinal);
        Assert.Contains("sparseness (higher better)", table, StringComparison.Ordinal);
        EvaluationReport without = Evaluator.Run(model, inputs, [AttributionSpec.Parse("gradient")],
            options: new EvaluationOptions { Perturbation = new PerturbationSettings { PatchSize = 2 }, Randomization = null, Infidelity = null, Sensitivity = null });
        Assert.Equal([FaithfulnessMeasure.Sparseness, FaithfulnessMeasure.Complexity], without.MeasuresWithoutBaseline);
    }

    [Fact]
    public void AttributingInBatchesEqualsAttributingAtOnce()
    {
        using var scope = NewDisposeScope();
        Sequential model = TestNets.ConvReLUNet(57);
        model.eval();
        Tensor inputs = TestNets.Input(58, batch: 5);
        long[] targets = { 0, 1, 2, 1, 0 };
        var attributor = AttributionSpec.Parse("epsilon_plus_flat").CreateAttributor(model);
        double[] whole = D(Evaluator.Attribute(attributor, inputs, targets, batchSize: 100));
        AssertClose(whole, Evaluator.Attribute(attributor, inputs, targets, batchSize: 2), 1e-12, "batches of 2");
        AssertClose(whole, Evaluator.Attribute(attributor, inputs, targets, batchSize: 1, shareRegistration: false), 1e-12, "one by one");
    }

    private sealed class Recorder(List<EvaluationProgress> log) : IProgress<EvaluationProgress>
    {
        public void Report(EvaluationProgress value) => log.Add(value);
    }
}
