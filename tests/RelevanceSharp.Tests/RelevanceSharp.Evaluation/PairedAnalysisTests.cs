using System.Text.RegularExpressions;
using RelevanceSharp.Attribution;
using RelevanceSharp.Evaluation;

namespace RelevanceSharp.Tests.Evaluation;

/// <summary>Paired comparisons on reports with scores set by hand: orientation, counts, tests, correction, lines, verdicts, defaults.</summary>
public class PairedAnalysisTests
{
    private static readonly string[] OneBaseline = ["zeros"];
    private static readonly ConfigurationPair GradientVsFlat = new("gradient", "epsilon_plus_flat");

    // Six images; epsilon_plus_flat beats gradient on every one under every measure.
    private static EvaluationReport SixImages() => HandReports.Build(OneBaseline,
        ("gradient", [new([1, 2, 3, 4, 5, 6], [5, 5, 5, 5, 5, 5])]),
        ("epsilon_plus_flat", [new([1.5, 3, 4.5, 6, 7.5, 9], [4, 3, 2, 1, 0, -1])]));

    [Fact]
    public void APositiveDifferenceMeansBIsMoreFaithfulUnderEveryMeasure()
    {
        PairedAnalysis analysis = PairedAnalysis.Run(SixImages(), [GradientVsFlat], new PairedSettings { Resamples = 2000 });
        Assert.Equal(3, analysis.Results.Count);
        PairedResult morf = analysis.Results.Single(r => r.Measure == FaithfulnessMeasure.MorfAopc);
        PairedResult lerf = analysis.Results.Single(r => r.Measure == FaithfulnessMeasure.LerfAopc);
        PairedResult abpc = analysis.Results.Single(r => r.Measure == FaithfulnessMeasure.Abpc);
        // MoRF: B - A = 0.5, 1, ..., 3 (mean 1.75). LeRF, lower better: A - B = 1, 2, ..., 6 (mean 3.5). ABPC: the sum, 5.25.
        Assert.Equal(1.75, morf.MeanDifference, 12);
        Assert.Equal(3.5, lerf.MeanDifference, 12);
        Assert.Equal(5.25, abpc.MeanDifference, 12);
        Assert.Equal((3.5, 5.25), (morf.MeanA, morf.MeanB));
        foreach (PairedResult result in analysis.Results)
        {
            Assert.Equal((6, 0, 6, 6), (result.BBetter, result.ABetter, result.Differing, result.Images));
            // All six differences positive: the exact two-sided p is 2 / 2^6.
            Assert.Equal(2 / 64.0, result.Wilcoxon.PValue, 12);
            Assert.True(result.Interval.Low > 0 && result.Interval.Contains(result.MeanDifference));
        }
        Assert.True(lerf.Interval.Low >= 1 && lerf.Interval.High <= 6);
    }

    [Fact]
    public void MeasuresWithoutBaselineAreComparedOnceWithTheirOwnOrientation()
    {
        // B (epsilon_plus_flat) has lower infidelity and sensitivity (better: d = A - B > 0), higher sparseness (better:
        // d = B - A > 0) and higher complexity (worse: d = A - B < 0).
        EvaluationReport report = HandReports.WithMetrics(SixImages(),
            new AttributionMetrics([0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [2, 2, 2, 2, 2, 2]) { Infidelity = [4, 4, 4, 4, 4, 4], Sensitivity = [1, 1, 1, 1, 1, 1] },
            new AttributionMetrics([0.3, 0.2, 0.4, 0.2, 0.3, 0.2], [3, 3, 3, 3, 3, 3]) { Infidelity = [1, 2, 3, 1, 2, 3], Sensitivity = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5] });
        // Six images that all differ one way give the exact p = 2 / 64 at best, which Holm raises to 7 / 32 over the 7
        // comparisons: the verdicts below need a level above that.
        PairedAnalysis analysis = PairedAnalysis.Run(report, [GradientVsFlat], new PairedSettings { Resamples = 500, Alpha = 0.25 });
        Assert.Equal(3 + 4, analysis.Results.Count);
        PairedResult Of(FaithfulnessMeasure m) => analysis.Results.Single(r => r.Measure == m);
        Assert.Equal(2.0, Of(FaithfulnessMeasure.Infidelity).MeanDifference, 12);
        Assert.Equal(0.5, Of(FaithfulnessMeasure.SensitivityMax).MeanDifference, 12);
        // Sparseness: B - A = [0.2, 0.1, 0.3, 0.1, 0.2, 0.1], mean 1.0 / 6.
        Assert.Equal(1.0 / 6, Of(FaithfulnessMeasure.Sparseness).MeanDifference, 12);
        Assert.Equal(-1.0, Of(FaithfulnessMeasure.Complexity).MeanDifference, 12);
        Assert.All(FaithfulnessMeasures.WithoutBaseline, m => Assert.Equal(PairedAnalysis.NoBaseline, Of(m).Baseline));
        IReadOnlyList<string> lines = analysis.Lines();
        int heading = lines.ToList().IndexOf("without baseline:");
        Assert.True(heading > 0, "no heading for the measures without baseline");
        Assert.StartsWith("paired: gradient vs epsilon_plus_flat: mean difference in infidelity = 2.000 [", lines[heading + 1]);
        string verdicts = string.Join("\n", analysis.Verdicts());
        Assert.Contains("verdict: gradient vs epsilon_plus_flat, complexity: gradient less complex (d = -1.000", verdicts);
        Assert.Contains("verdict: gradient vs epsilon_plus_flat, sparseness: epsilon_plus_flat sparser (d = +0.167", verdicts);
        Assert.Contains("verdict: gradient vs epsilon_plus_flat, sensitivity-max: epsilon_plus_flat more robust", verdicts);
    }

    [Fact]
    public void HolmCorrectsOverEveryComparisonOfTheRun()
    {
        EvaluationReport report = HandReports.Build(["zeros", "blur"],
            ("gradient", [new([1, 2, 3, 4, 5, 6, 7, 8], [3, 3, 3, 3, 3, 3, 3, 3]), new([2, 2, 2, 2, 2, 2, 2, 2], [1, 2, 1, 2, 1, 2, 1, 2])]),
            ("epsilon_plus_flat", [new([2, 1, 4, 3, 7, 5, 9, 8], [2, 4, 2, 4, 1, 3, 2, 3]), new([3, 1, 3, 1, 3, 1, 3, 2], [1, 1, 1, 1, 2, 2, 2, 2])]),
            ("epsilon_gamma_box", [new([1, 2, 3, 4, 5, 6, 7, 8.5], [3, 3, 3, 3, 3, 3, 3, 2]), new([2, 2, 2, 2, 2, 2, 2, 2], [1, 2, 1, 2, 1, 2, 1, 2])]));
        PairedAnalysis analysis = PairedAnalysis.Run(report,
            [GradientVsFlat, new ConfigurationPair("gradient", "epsilon_gamma_box")], new PairedSettings { Resamples = 200 });
        Assert.Equal(2 * 3 * 2, analysis.Results.Count);
        double[] expected = HolmCorrection.Adjust(analysis.Results.Select(r => r.Wilcoxon.PValue).ToArray());
        Assert.Equal(expected, analysis.Results.Select(r => r.HolmP));
        Assert.All(analysis.Results, r => Assert.True(r.HolmP >= r.Wilcoxon.PValue));
        Assert.Contains(analysis.Results, r => r.HolmP > r.Wilcoxon.PValue);
    }

    [Fact]
    public void TheLineHasTheAgreedShapeAndCountsOnlyImagesThatDiffer()
    {
        // Two ties (images 2 and 5): B better on 3 of the 4 that differ, n = 6.
        EvaluationReport report = HandReports.Build(OneBaseline,
            ("gradient", [new([1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 0])]),
            ("epsilon_plus_flat", [new([2, 3, 3, 3, 6, 6], [0, 0, 0, 0, 0, 0])]));
        PairedResult morf = PairedAnalysis.Run(report, [GradientVsFlat], new PairedSettings { Resamples = 500 }).Results[0];
        Assert.Equal((3, 1, 6), (morf.BBetter, morf.ABetter, morf.Images));
        string line = morf.Format();
        Assert.Matches(new Regex(@"^paired: gradient vs epsilon_plus_flat: mean difference in AOPC = 0\.333 \[-?\d\.\d{3}, \d\.\d{3}\] " +
            @"\(95% bootstrap CI\), Wilcoxon p = \d\.\d{4}, B better on 3 of 4, n = 6$"), line);
        // Differences 1, 1, -1, 1 (ties dropped): ranks 2.5 each, W- = 2.5; exact p = 2 * P(W+ >= 7.5) = 2 * 5/16.
        Assert.Equal(2 * 5 / 16.0, morf.Wilcoxon.PValue, 12);
        Assert.Contains("Wilcoxon p = 0.6250", line, StringComparison.Ordinal);
    }

    [Fact]
    public void VerdictsSayWhetherTheyHoldUnderEveryBaseline()
    {
        double[] low = Enumerable.Range(1, 12).Select(i => (double)i).ToArray();
        double[] high = low.Select(v => v + 1 + v / 10).ToArray();
        double[] flat = low.Select(v => v % 2 == 0 ? v + 0.1 : v - 0.1).ToArray();
        // Under zeros B wins every image; under blur the differences alternate in sign.
        EvaluationReport report = HandReports.Build(["zeros", "blur"],
            ("gradient", [new(low, low), new(low, low)]),
            ("epsilon_plus_flat", [new(high, low), new(flat, low)]));
        PairedAnalysis analysis = PairedAnalysis.Run(report, [GradientVsFlat], new PairedSettings { Resamples = 500 });
        string morf = analysis.Verdicts().Single(v => v.Contains("AOPC (MoRF):", StringComparison.Ordinal));
        Assert.StartsWith("verdict: gradient vs epsilon_plus_flat, AOPC (MoRF): under zeros: epsilon_plus_flat more faithful (d = +", morf, StringComparison.Ordinal);
        Assert.Contains("under blur: no significant difference", morf, StringComparison.Ordinal);
        Assert.EndsWith("The verdict differs between the baselines.", morf, StringComparison.Ordinal);
        // LeRF scores are equal everywhere: no difference under both, which holds under both.
        string lerf = analysis.Verdicts().Single(v => v.Contains("AOPC (LeRF):", StringComparison.Ordinal));
        Assert.EndsWith("The verdict holds under both baselines.", lerf, StringComparison.Ordinal);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(lerf, "no significant difference").Count);
    }

    [Fact]
    public void TheFilesHoldEveryComparison()
    {
        string folder = Path.Combine(Path.GetTempPath(), "rs-pairs-" + Guid.NewGuid().ToString("N"));
        try
        {
            PairedAnalysis analysis = PairedAnalysis.Run(SixImages(), [GradientVsFlat], new PairedSettings { Resamples = 300 });
            IReadOnlyList<string> written = analysis.WriteAll(folder);
            Assert.Equal(new[] { "pairs.csv", "paired.png" }, written.Select(Path.GetFileName));
            string[] rows = File.ReadAllLines(written[0]);
            Assert.Equal("a,b,measure,baseline,higher_is_better,mean_a,mean_b,mean_difference,ci_low,ci_high,ci_level," +
                "wilcoxon_w_plus,wilcoxon_w_minus,wilcoxon_exact,wilcoxon_z,wilcoxon_p,holm_p,b_better,a_better,ties,n", rows[0]);
            Assert.Equal(4, rows.Length);
            Assert.StartsWith("gradient,epsilon_plus_flat,lerf_aopc,zeros,false,5,1.5,3.5,", rows[2], StringComparison.Ordinal);
            Assert.EndsWith(",6,0,0,6", rows[2], StringComparison.Ordinal);
            Assert.True(new FileInfo(written[1]).Length > 1000);
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public void TheDefaultPairsAreTheCanonizerQuestionAndTheGradient()
    {
        IReadOnlyList<ConfigurationPair> pairs = ConfigurationPair.Defaults([.. EvaluationDefaults.Specs, UniformNoiseAttribution.Control]);
        string[] expected =
        [
            "epsilon_plus_flat vs epsilon_plus_flat+densenet_seq_thresh",
            "epsilon_gamma_box vs epsilon_gamma_box+densenet_seq_thresh",
            "epsilon_plus_flat+densenet_seq_thresh vs epsilon_plus_flat+densenet_thresh_seq",
            "epsilon_gamma_box+densenet_seq_thresh vs epsilon_gamma_box+densenet_thresh_seq",
            "gradient vs epsilon_plus_flat",
            "gradient vs epsilon_plus_flat+densenet_seq_thresh",
            "gradient vs epsilon_plus_flat+densenet_thresh_seq",
            "gradient vs epsilon_gamma_box",
            "gradient vs epsilon_gamma_box+densenet_seq_thresh",
            "gradient vs epsilon_gamma_box+densenet_thresh_seq",
        ];
        Assert.Equal(expected, pairs.Select(p => p.ToString()));
        // Without the configurations a pair needs, the pair is left out.
        Assert.Equal(new[] { "gradient vs epsilon_gamma_box+densenet_thresh_seq" },
            ConfigurationPair.Defaults([AttributionSpec.Parse("gradient"), AttributionSpec.Parse("epsilon_gamma_box+densenet_thresh_seq")]).Select(p => p.ToString()));
    }

    [Fact]
    public void PairsAreReadAsTwoConfigurations()
    {
        Assert.Equal(new ConfigurationPair("epsilon_gamma_box+densenet_seq_thresh", "epsilon_gamma_box+densenet_thresh_seq"),
            ConfigurationPair.Parse(" epsilon_gamma_box+densenet_seq_thresh vs  epsilon_gamma_box+densenet_thresh_seq "));
        Assert.Throws<ArgumentException>(() => ConfigurationPair.Parse("gradient epsilon_plus_flat"));
        Assert.Throws<ArgumentException>(() => ConfigurationPair.Parse("gradient vs gradient"));
        Assert.Throws<ArgumentException>(() => ConfigurationPair.Parse("gradient vs nosuch"));
        Assert.Throws<ArgumentException>(() => PairedAnalysis.Run(SixImages(), [new ConfigurationPair("gradient", "epsilon_gamma_box")]));
    }
}
