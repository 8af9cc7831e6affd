using System.Globalization;
using System.Text.Json;
using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.IO;
using RelevanceSharp.Language.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Conformance;

/// <summary>How one conformance check ended.</summary>
public enum CheckStatus
{
    /// <summary>Within tolerance.</summary>
    Passed,

    /// <summary>Outside tolerance, or an error.</summary>
    Failed,

    /// <summary>Not run (something it needs is not implemented).</summary>
    Skipped,
}

/// <summary>The outcome of one check: a case of a model folder, an architecture, a checkpoint.</summary>
public sealed record CheckResult(string Name, CheckStatus Status, double MaxError, double Allowed, string? Detail = null)
{
    /// <summary>A one-line report.</summary>
    public override string ToString()
    {
        string status = Status switch { CheckStatus.Passed => "pass", CheckStatus.Failed => "FAIL", _ => "skip" };
        string numbers = Status == CheckStatus.Skipped || double.IsNaN(MaxError)
            ? ""
            : string.Create(CultureInfo.InvariantCulture, $"  max_abs_err={MaxError:E3}  allowed={Allowed:E3}");
        return $"{status}  {Name}{numbers}{(Detail is null ? "" : "  " + Detail)}";
    }
}

/// <summary>
/// Runs the reference cases of a conformance folder (format: the folder's README): builds each model from its
/// <c>model.json</c>, loads its weights, runs every case and compares relevance and model output with the
/// reference, by <c>max|actual - expected| &lt;= atol + rtol * max|expected|</c>.
/// </summary>
public static class ConformanceRunner
{
    /// <summary>
    /// Extra checks for folders that are not attribution-case folders: by default the model zoo's full-size
    /// architectures (<see cref="FullsizeChecks"/>) and checkpoints (<see cref="PthChecks"/>).
    /// </summary>
    public static IList<Func<string, IEnumerable<CheckResult>?>> FolderChecks { get; } =
        new List<Func<string, IEnumerable<CheckResult>?>> { FullsizeChecks.TryRun, PthChecks.TryRun };

    /// <summary>
    /// Runs everything under <paramref name="path"/>: a model folder (with <c>cases.json</c>), a folder handled by
    /// one of <see cref="FolderChecks"/>, or a folder of such folders.
    /// </summary>
    public static IEnumerable<CheckResult> Run(string path)
    {
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"Conformance folder not found: {path}");
        }
        if (File.Exists(Path.Combine(path, "cases.json")))
        {
            foreach (CheckResult result in RunCases(path))
            {
                yield return result;
            }
            yield break;
        }
        foreach (Func<string, IEnumerable<CheckResult>?> check in FolderChecks)
        {
            IEnumerable<CheckResult>? results = check(path);
            if (results is not null)
            {
                foreach (CheckResult result in results)
                {
                    yield return result;
                }
                yield break;
            }
        }
        foreach (string child in Directory.GetDirectories(path).OrderBy(d => d, StringComparer.Ordinal))
        {
            foreach (CheckResult result in Run(child))
            {
                yield return result;
            }
        }
    }

    /// <summary>The cases of one model folder, for listing.</summary>
    public static IReadOnlyList<string> CaseNames(string folder)
    {
        string path = Path.Combine(folder, "cases.json");
        using JsonDocument cases = CaseFile.Parse(path);
        return CaseFile.Cases(cases.RootElement, path).Select((c, i) => CaseFile.Name(c, i)).ToList();
    }

    /// <summary>Runs the cases of one model folder, optionally only those named.</summary>
    public static IEnumerable<CheckResult> RunCases(string folder, IReadOnlyCollection<string>? only = null) =>
        RunCases(folder, substitute: null, only);

    /// <summary>
    /// Runs the cases of one model folder on a model the caller supplies in place of the one its <c>model.json</c> and
    /// weights describe (the same network in another form, e.g. imported from an export of it), with the folder's
    /// inputs, references, tolerances and pass criterion.
    /// </summary>
    public static IEnumerable<CheckResult> RunCases(string folder, SubstituteModel? substitute, IReadOnlyCollection<string>? only = null)
    {
        string model = Path.GetFileName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar));
        ModelFolder loaded;
        try
        {
            // A model family that is not implemented yet skips the whole folder, as an unknown canonizer skips its case.
            if (substitute is null && UnknownArchitecture(folder) is { } arch)
            {
                return new[] { new CheckResult($"{model}/*", CheckStatus.Skipped, 0, 0, $"architecture '{arch}' is not implemented") };
            }
            loaded = ModelFolder.Open(folder, substitute?.Create);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A damaged folder is one failed check that names the file and the problem.
            return new[] { new CheckResult($"{model}/*", CheckStatus.Failed, double.NaN, double.NaN, ex.Message.Split('\n')[0].Trim()) };
        }
        return RunLoaded(loaded, model, only, substitute?.BeforeCase);
    }

    // The architecture a folder's model.json names when no builder knows it; null when it is known or the file is
    // unreadable (which opening the folder then reports as a failure naming the file).
    private static string? UnknownArchitecture(string folder)
    {
        string path = Path.Combine(folder, "model.json");
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            using JsonDocument document = JsonInput.Load(path, "model description");
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("arch", out JsonElement arch) && arch.ValueKind == JsonValueKind.String
                && arch.GetString() is { Length: > 0 } name && !Architectures.IsKnown(name)
                ? name
                : null;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static IEnumerable<CheckResult> RunLoaded(ModelFolder folder, string model, IReadOnlyCollection<string>? only,
        Func<nn.Module<Tensor, Tensor>, IReadOnlyList<string>, IDisposable?>? beforeCase)
    {
        using (folder)
        {
            int index = 0;
            foreach (JsonElement spec in folder.Cases)
            {
                string name = CaseFile.Name(spec, index++);
                if (only is not null && !only.Contains(name))
                {
                    continue;
                }
                yield return RunCase(folder, $"{model}/{name}", spec, beforeCase);
            }
        }
    }

    private static CheckResult RunCase(ModelFolder folder, string label, JsonElement spec,
        Func<nn.Module<Tensor, Tensor>, IReadOnlyList<string>, IDisposable?>? beforeCase)
    {
        using var scope = NewDisposeScope();
        var canonizers = new List<string>();
        try
        {
            if (!spec.TryGetProperty("canonizers", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"{folder.CasesPath}: the case has no 'canonizers' list");
            }
            foreach (JsonElement name in list.EnumerateArray())
            {
                string canonizer = name.ValueKind == JsonValueKind.String ? name.GetString()! : name.GetRawText();
                if (!CanonizerRegistry.IsKnown(canonizer))
                {
                    return new CheckResult(label, CheckStatus.Skipped, 0, 0, $"canonizer '{canonizer}' is not implemented");
                }
                canonizers.Add(canonizer);
            }
            using IDisposable? prepared = beforeCase?.Invoke(folder.Model, canonizers);
            using AttributionResult result = folder.Model is DecoderModel decoder
                ? DecoderCases.Run(decoder, folder.Input, spec, canonizers, folder.CasesPath)
                : Attribute(folder.Model, folder.Input, CreateSpec(spec, canonizers), spec);
            Tensor expected = folder.Expected(spec.TryGetProperty("expected", out JsonElement e) && e.ValueKind == JsonValueKind.String
                ? e.GetString()!
                : throw new InvalidDataException($"{folder.CasesPath}: the case has no 'expected' tensor name"));
            double relevanceError = MaxAbsDifference(result.Relevance, expected);
            double allowed = folder.Atol + folder.Rtol * expected.abs().max().to(ScalarType.Float64).item<double>();
            double outputError = MaxAbsDifference(result.Output, folder.Output);
            double outputAllowed = folder.Atol + folder.Rtol * folder.Output.abs().max().to(ScalarType.Float64).item<double>();
            bool ok = relevanceError <= allowed && outputError <= outputAllowed;
            string? detail = outputError <= outputAllowed
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"model output differs: {outputError:E3} > {outputAllowed:E3}");
            return new CheckResult(label, ok ? CheckStatus.Passed : CheckStatus.Failed, relevanceError, allowed, detail);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            string message = ex.Message.Split('\n')[0].Trim();
            // Errors about the folder's files name the file; others say what kind of error it was.
            string detail = ex switch
            {
                InvalidDataException => message,
                KeyNotFoundException => $"{folder.CasesPath}: the case lacks a required field ({message})",
                _ => $"{ex.GetType().Name}: {message}",
            };
            return new CheckResult(label, CheckStatus.Failed, double.NaN, double.NaN, detail);
        }
    }

    private static AttributionResult Attribute(nn.Module<Tensor, Tensor> model, Tensor input, AttributionSpec attribution, JsonElement spec)
    {
        Attributor attributor = attribution.CreateAttributor(model);
        return attributor.Attribute(input, CreateTarget(spec, attributor.Composite));
    }

    /// <summary>The largest absolute elementwise difference (infinite when the shapes differ).</summary>
    public static double MaxAbsDifference(Tensor actual, Tensor expected)
    {
        if (!actual.shape.SequenceEqual(expected.shape))
        {
            return double.PositiveInfinity;
        }
        using var scope = NewDisposeScope();
        return (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max().item<double>();
    }

    // zennit's names of attributor arguments that the method registry spells otherwise.
    private static readonly Dictionary<string, string> ArgumentNames = new(StringComparer.Ordinal) { ["n_iter"] = "iterations" };

    /// <summary>
    /// The attribution spec of a case: its attributor (zennit's name, e.g. <c>smooth_grad</c>, an alias of the method
    /// registry's) with its arguments, its composite with its arguments, and its canonizers.
    /// </summary>
    private static AttributionSpec CreateSpec(JsonElement spec, IReadOnlyList<string> canonizers)
    {
        JsonElement attributor = spec.GetProperty("attributor");
        string name = attributor.GetProperty("name").GetString() ?? "";
        MethodEntry method = MethodRegistry.Find(name) ?? throw new NotSupportedException($"Unknown attributor '{name}'.");
        var methodArguments = attributor.EnumerateObject()
            .Where(p => p.Name != "name")
            .Select(p => $"{ArgumentNames.GetValueOrDefault(p.Name, p.Name)}={p.Value.GetRawText()}")
            .ToList();
        JsonElement composite = spec.GetProperty("composite");
        if (composite.ValueKind == JsonValueKind.Null)
        {
            return AttributionSpec.Create(method.Name, methodArguments, canonizers: canonizers);
        }
        var compositeArguments = composite.TryGetProperty("args", out JsonElement given)
            ? given.EnumerateObject().Select(p => $"{p.Name}={p.Value.GetRawText()}").ToList()
            : [];
        return AttributionSpec.Create(method.Name, methodArguments, composite.GetProperty("name").GetString() ?? "", compositeArguments, canonizers);
    }

    /// <summary>
    /// The target of a case. <c>onehot</c> seeds zennit's relevance with the one-hot of the class; the transformer
    /// composites' cases come from LXT, which seeds its gradient with the one-hot, so that the relevance at the output
    /// is the logit times the one-hot, which is <c>output_onehot</c> here.
    /// </summary>
    private static AttributionTarget CreateTarget(JsonElement spec, Composite? composite)
    {
        long target = spec.GetProperty("target").GetInt64();
        string kind = spec.TryGetProperty("attr_output", out JsonElement value) ? value.GetString() ?? "onehot" : "onehot";
        return kind switch
        {
            "onehot" when composite is TransformerComposite => AttributionTarget.ClassScore(target),
            "onehot" => AttributionTarget.Class(target),
            "output_onehot" => AttributionTarget.ClassScore(target),
            _ => throw new NotSupportedException($"Unknown attr_output '{kind}'."),
        };
    }
}

/// <summary>Reading <c>cases.json</c>, with every problem named by file.</summary>
internal static class CaseFile
{
    /// <summary>Parses the file (through <see cref="JsonInput.Load"/>).</summary>
    public static JsonDocument Parse(string path)
    {
        JsonDocument document = JsonInput.Load(path, "case list");
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new InvalidDataException($"{path}: the file is not a JSON object");
        }
        return document;
    }

    /// <summary>The non-empty list of cases.</summary>
    public static IReadOnlyList<JsonElement> Cases(JsonElement root, string path)
    {
        if (!root.TryGetProperty("cases", out JsonElement cases) || cases.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{path}: there is no 'cases' list");
        }
        var list = cases.EnumerateArray().ToList();
        if (list.Count == 0)
        {
            throw new InvalidDataException($"{path}: the 'cases' list is empty");
        }
        if (list.Any(c => c.ValueKind != JsonValueKind.Object))
        {
            throw new InvalidDataException($"{path}: every case must be a JSON object");
        }
        return list;
    }

    /// <summary>A case's name, or its position when it has none.</summary>
    public static string Name(JsonElement spec, int index) =>
        spec.TryGetProperty("name", out JsonElement name) && name.ValueKind == JsonValueKind.String ? name.GetString()! : $"case {index + 1}";

    /// <summary>A finite, non-negative number under <c>tolerance</c>.</summary>
    public static double Tolerance(JsonElement root, string key, string path)
    {
        if (root.TryGetProperty("tolerance", out JsonElement tolerance) && tolerance.ValueKind == JsonValueKind.Object
            && tolerance.TryGetProperty(key, out JsonElement value) && value.ValueKind == JsonValueKind.Number
            && value.TryGetDouble(out double number) && double.IsFinite(number) && number >= 0)
        {
            return number;
        }
        throw new InvalidDataException($"{path}: tolerance.{key} must be a finite non-negative number");
    }
}

/// <summary>
/// A model that stands in for the one a conformance folder describes (see
/// <see cref="ConformanceRunner.RunCases(string, SubstituteModel?, IReadOnlyCollection{string}?)"/>).
/// </summary>
/// <param name="Create">Builds the model, with its weights, in evaluation mode and the folder's float type (given).</param>
/// <param name="BeforeCase">
/// Called before each case with the model and the case's canonizer names; what it returns is disposed after the case.
/// For what the substitute must do differently per case, e.g. run as plain functions the operations the reference
/// model computed with functions, which rules never saw there.
/// </param>
public sealed record SubstituteModel(
    Func<ScalarType, nn.Module<Tensor, Tensor>> Create,
    Func<nn.Module<Tensor, Tensor>, IReadOnlyList<string>, IDisposable?>? BeforeCase = null);

/// <summary>A loaded conformance model folder: model with weights, reference tensors, cases, tolerance.</summary>
public sealed class ModelFolder : IDisposable
{
    private readonly Dictionary<string, Tensor> expected;
    private readonly JsonDocument cases;
    private readonly string expectedPath;

    private ModelFolder(nn.Module<Tensor, Tensor> model, Dictionary<string, Tensor> expected, JsonDocument cases, string casesPath,
        string expectedPath, string inputName, string outputName)
    {
        Model = model;
        this.expected = expected;
        this.cases = cases;
        this.expectedPath = expectedPath;
        CasesPath = casesPath;
        JsonElement root = cases.RootElement;
        Rtol = CaseFile.Tolerance(root, "rtol", casesPath);
        Atol = CaseFile.Tolerance(root, "atol", casesPath);
        Cases = CaseFile.Cases(root, casesPath);
        Input = Expected(inputName);
        Output = Expected(outputName);
    }

    /// <summary>The model, with weights, in eval mode and the folder's dtype.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>The reference input batch.</summary>
    public Tensor Input { get; }

    /// <summary>The reference model output.</summary>
    public Tensor Output { get; }

    /// <summary>Relative tolerance.</summary>
    public double Rtol { get; }

    /// <summary>Absolute tolerance.</summary>
    public double Atol { get; }

    /// <summary>The path of the folder's <c>cases.json</c>, for messages.</summary>
    public string CasesPath { get; }

    /// <summary>The case descriptions.</summary>
    public IReadOnlyList<JsonElement> Cases { get; }

    /// <summary>
    /// Opens a folder. Every problem with its files (missing, damaged, not fitting each other) is one
    /// <see cref="InvalidDataException"/> or <see cref="FileNotFoundException"/> whose message names the file.
    /// With <paramref name="substitute"/>, that builds the model (with its weights, given the folder's float type)
    /// instead of <c>model.json</c> and <c>weights.safetensors</c>.
    /// </summary>
    public static ModelFolder Open(string folder, Func<ScalarType, nn.Module<Tensor, Tensor>>? substitute = null)
    {
        string casesPath = Path.Combine(folder, "cases.json");
        string weightsPath = Path.Combine(folder, "weights.safetensors");
        string expectedPath = Path.Combine(folder, "expected.safetensors");
        JsonDocument cases = CaseFile.Parse(casesPath);
        nn.Module<Tensor, Tensor>? model = null;
        Dictionary<string, Tensor>? expected = null;
        try
        {
            JsonElement root = cases.RootElement;
            JsonElement d = root.TryGetProperty("dtype", out JsonElement given) ? given : default;
            string dtype = d.ValueKind == JsonValueKind.String ? d.GetString()! : d.ValueKind == JsonValueKind.Undefined ? "float32" : d.GetRawText();
            ScalarType type = dtype switch
            {
                "float64" => ScalarType.Float64,
                "float32" => ScalarType.Float32,
                _ => throw new InvalidDataException($"{casesPath}: unknown dtype '{dtype}' (float32 or float64)"),
            };
            if (substitute is not null)
            {
                model = substitute(type);
            }
            else
            {
                model = Architectures.Load(Path.Combine(folder, "model.json"));
                model.to(type);
                Dictionary<string, Tensor> weights = SafeTensors.Load(weightsPath);
                try
                {
                    StateDict.Load(model, weights, weightsPath);
                }
                catch (StateDictMismatchException ex)
                {
                    throw new InvalidDataException(ex.Message.Split('\n')[0], ex);
                }
                finally
                {
                    foreach (Tensor tensor in weights.Values)
                    {
                        tensor.Dispose();
                    }
                }
            }
            expected = SafeTensors.Load(expectedPath);
            foreach (string key in expected.Keys.ToList())
            {
                if (expected[key].is_floating_point() && expected[key].dtype != type)
                {
                    Tensor converted = expected[key].to(type).DetachFromDisposeScope();
                    expected[key].Dispose();
                    expected[key] = converted;
                }
            }
            return new ModelFolder(model, expected, cases, casesPath, expectedPath,
                root.TryGetProperty("input", out JsonElement i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : "input",
                root.TryGetProperty("output", out JsonElement o) && o.ValueKind == JsonValueKind.String ? o.GetString()! : "output");
        }
        catch
        {
            foreach (Tensor tensor in expected?.Values ?? Enumerable.Empty<Tensor>())
            {
                tensor.Dispose();
            }
            model?.Dispose();
            cases.Dispose();
            throw;
        }
    }

    /// <summary>A reference tensor by name.</summary>
    public Tensor Expected(string name) =>
        expected.TryGetValue(name, out Tensor? tensor) ? tensor : throw new InvalidDataException($"{expectedPath}: there is no tensor '{name}'");

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (Tensor tensor in expected.Values)
        {
            tensor.Dispose();
        }
        cases.Dispose();
        Model.Dispose();
    }
}
