using System.Text.Json;
using RelevanceSharp.Cli.Commands;
using RelevanceSharp.IO;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Conformance;

/// <summary>
/// <c>relevance verify</c> on small model folders written to a temporary directory: a Linear(3 -> 2) model whose
/// expected output and gradient are computed by hand, with cases that are right, wrong, or need a canonizer that
/// does not exist.
/// </summary>
public sealed class VerifyCommandTests : IDisposable
{
    private static readonly double[,] Weight = { { 0.5, -1.0, 2.0 }, { -0.25, 0.75, 1.5 } };
    private static readonly double[] Bias = { 0.1, -0.3 };
    private static readonly double[,] Input = { { 1.0, 2.0, -1.0 }, { 0.0, -0.5, 0.25 } };

    private readonly string root = Path.Combine(Path.GetTempPath(), "relevancesharp-verify-" + Guid.NewGuid().ToString("N"));

    public VerifyCommandTests() => Directory.CreateDirectory(root);

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static object Case(string name, string expected, string[]? canonizers = null) => new
    {
        name,
        composite = (object?)null,
        canonizers = canonizers ?? Array.Empty<string>(),
        attributor = new { name = "gradient" },
        target = 1,
        attr_output = "onehot",
        expected,
    };

    /// <summary>Writes a model folder; <paramref name="tamper"/> may change the reference tensors before they are saved.</summary>
    private string WriteFolder(string name, object[] cases, Action<Dictionary<string, double[]>>? tamper = null)
    {
        string folder = Path.Combine(root, name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "model.json"),
            JsonSerializer.Serialize(new { arch = "sequential", layers = new[] { new { type = "linear", @in = 3, @out = 2 } } }));
        File.WriteAllText(Path.Combine(folder, "cases.json"), JsonSerializer.Serialize(new
        {
            dtype = "float64",
            input = "input",
            output = "output",
            tolerance = new { rtol = 1e-6, atol = 1e-9 },
            cases,
        }));
        using var scope = NewDisposeScope();
        SafeTensors.Save(Path.Combine(folder, "weights.safetensors"), new Dictionary<string, Tensor>
        {
            ["0.weight"] = T(Flatten(Weight), 2, 3),
            ["0.bias"] = T(Bias),
        });
        // By hand: output = W x + b per sample; the gradient of output[:, 1] is W's second row for every sample.
        var values = new Dictionary<string, double[]>
        {
            ["input"] = Flatten(Input),
            ["output"] = new double[4],
            ["gradient"] = new double[6],
        };
        for (int n = 0; n < 2; n++)
        {
            for (int j = 0; j < 2; j++)
            {
                values["output"][n * 2 + j] = Bias[j] + Enumerable.Range(0, 3).Sum(i => Weight[j, i] * Input[n, i]);
            }
            for (int i = 0; i < 3; i++)
            {
                values["gradient"][n * 3 + i] = Weight[1, i];
            }
        }
        values["wrong"] = (double[])values["gradient"].Clone();
        values["wrong"][4] += 0.01;
        tamper?.Invoke(values);
        SafeTensors.Save(Path.Combine(folder, "expected.safetensors"), new Dictionary<string, Tensor>
        {
            ["input"] = T(values["input"], 2, 3),
            ["output"] = T(values["output"], 2, 2),
            ["gradient"] = T(values["gradient"], 2, 3),
            ["wrong"] = T(values["wrong"], 2, 3),
        });
        return folder;
    }

    private static (int Code, string[] Lines) Verify(params string[] paths)
    {
        using var writer = new StringWriter();
        int code = VerifyCommand.Run(paths, writer);
        return (code, writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public void AllCasesPassingEndsWithTheSummaryAndExitCodeZero()
    {
        string folder = WriteFolder("linear_ok", new[] { Case("gradient", "gradient") });
        var (code, lines) = Verify(folder);
        Assert.Equal(0, code);
        Assert.StartsWith("pass  linear_ok/gradient", lines[0], StringComparison.Ordinal);
        Assert.Equal("1 passed, 0 failed", lines[^1]);
    }

    [Fact]
    public void AWrongExpectedTensorFailsTheCaseAndTheCommand()
    {
        string folder = WriteFolder("linear_wrong", new[] { Case("gradient", "gradient"), Case("wrong", "wrong") });
        var (code, lines) = Verify(folder);
        Assert.NotEqual(0, code);
        Assert.Contains(lines, l => l.StartsWith("pass  linear_wrong/gradient", StringComparison.Ordinal));
        string failure = Assert.Single(lines, l => l.StartsWith("FAIL", StringComparison.Ordinal));
        Assert.Contains("linear_wrong/wrong", failure, StringComparison.Ordinal);
        Assert.Contains("max_abs_err=1.000E-002", failure, StringComparison.Ordinal);
        Assert.Equal("1 passed, 1 failed", lines[^1]);
    }

    [Fact]
    public void AWrongModelOutputFailsEvenWhenTheRelevanceIsRight()
    {
        string folder = WriteFolder("linear_bad_output", new[] { Case("gradient", "gradient") }, v => v["output"][3] += 1.0);
        var (code, lines) = Verify(folder);
        Assert.Equal(1, code);
        Assert.StartsWith("FAIL  linear_bad_output/gradient", lines[0], StringComparison.Ordinal);
        Assert.Contains("model output differs", lines[0], StringComparison.Ordinal);
        Assert.Equal("0 passed, 1 failed", lines[^1]);
    }

    [Fact]
    public void ASkippedCaseIsCountedAndFailsTheRun()
    {
        // A run that skipped a case has not shown conformance: it says why and exits non-zero.
        string folder = WriteFolder("linear_skip", new[] { Case("gradient", "gradient"), Case("canonized", "gradient", new[] { "no_such_canonizer" }) });
        var (code, lines) = Verify(folder);
        Assert.Equal(1, code);
        Assert.Contains(lines, l => l.StartsWith("skip  linear_skip/canonized", StringComparison.Ordinal) && l.Contains("no_such_canonizer", StringComparison.Ordinal));
        Assert.Equal("1 passed, 0 failed, 1 skipped", lines[^2]);
        Assert.StartsWith("error: 1 check(s) were skipped", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void ARunThatCheckedNothingFails()
    {
        string empty = Path.Combine(root, "empty");
        Directory.CreateDirectory(empty);
        var (code, lines) = Verify(empty);
        Assert.Equal(1, code);
        Assert.Equal(["0 passed, 0 failed", "error: no check ran: the folders hold no conformance case"], lines);
    }

    public static TheoryData<string, string> Damages() => new()
    {
        { "truncated_cases", "cases.json: not valid JSON" },
        { "empty_cases_file", "cases.json': it is empty" },
        { "no_cases", "the 'cases' list is empty" },
        { "nan_tolerance", "tolerance.rtol must be a finite non-negative number" },
        { "unknown_dtype", "unknown dtype 'int7'" },
        { "no_expected", "expected.safetensors': the file does not exist" },
        { "truncated_expected", "expected.safetensors: not a valid safetensors file" },
        { "no_weights", "weights.safetensors': the file does not exist" },
        { "no_model", "model.json': the file does not exist" },
        { "unknown_layer", "model.json: Layer 0 has the unknown type 'hyperlinear'" },
        { "misfit_model", "weights.safetensors do not fit the model" },
        { "case_without_fields", "cases.json: the case has no 'canonizers' list" },
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void ADamagedFolderIsOneFailedLineNamingTheFile(string damage, string expected)
    {
        string folder = WriteFolder(damage, new[] { Case("gradient", "gradient") });
        string cases = Path.Combine(folder, "cases.json");
        string text = File.ReadAllText(cases);
        switch (damage)
        {
            case "truncated_cases": File.WriteAllText(cases, text[..(text.Length / 2)]); break;
            case "empty_cases_file": File.WriteAllText(cases, ""); break;
            case "no_cases": File.WriteAllText(cases, text[..text.IndexOf("\"cases\"", StringComparison.Ordinal)] + "\"cases\":[]}"); break;
            case "nan_tolerance": File.WriteAllText(cases, text.Replace("\"rtol\":1E-06", "\"rtol\":\"NaN\"", StringComparison.Ordinal)); break;
            case "unknown_dtype": File.WriteAllText(cases, text.Replace("float64", "int7", StringComparison.Ordinal)); break;
            case "no_expected": File.Delete(Path.Combine(folder, "expected.safetensors")); break;
            case "truncated_expected": Truncate(Path.Combine(folder, "expected.safetensors")); break;
            case "no_weights": File.Delete(Path.Combine(folder, "weights.safetensors")); break;
            case "no_model": File.Delete(Path.Combine(folder, "model.json")); break;
            case "unknown_layer": File.WriteAllText(Path.Combine(folder, "model.json"), """{"arch":"sequential","layers":[{"type":"hyperlinear"}]}"""); break;
            case "misfit_model": File.WriteAllText(Path.Combine(folder, "model.json"), """{"arch":"sequential","layers":[{"type":"linear","in":4,"out":2}]}"""); break;
            case "case_without_fields": File.WriteAllText(cases, text[..text.IndexOf("\"cases\"", StringComparison.Ordinal)] + "\"cases\":[{\"name\":\"bare\"}]}"); break;
        }

        var (code, lines) = Verify(folder);

        Assert.Equal(1, code);
        string failure = Assert.Single(lines, l => l.StartsWith("FAIL", StringComparison.Ordinal));
        Assert.Contains(expected, failure, StringComparison.Ordinal);
        Assert.Equal("0 passed, 1 failed", lines[^1]);
    }

    private static void Truncate(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
    }

    [Fact]
    public void SeveralFoldersAreSummedAndAMissingPathIsAFailure()
    {
        string good = WriteFolder("a_ok", new[] { Case("gradient", "gradient") });
        string bad = WriteFolder("b_wrong", new[] { Case("wrong", "wrong") });
        string missing = Path.Combine(root, "does_not_exist");
        var (code, lines) = Verify(good, bad, missing);
        Assert.Equal(1, code);
        Assert.Contains(lines, l => l.Contains("does_not_exist", StringComparison.Ordinal) && l.StartsWith("error", StringComparison.Ordinal));
        Assert.Equal("1 passed, 2 failed", lines[^1]);
    }

    [Fact]
    public void AParentFolderRunsEveryModelFolderInside()
    {
        WriteFolder("m1", new[] { Case("gradient", "gradient") });
        WriteFolder("m2", new[] { Case("gradient", "gradient"), Case("wrong", "wrong") });
        var (code, lines) = Verify(root);
        Assert.Equal(1, code);
        Assert.Equal("2 passed, 1 failed", lines[^1]);
    }
}
