using System.CommandLine;
using RelevanceSharp.Attribution;
using RelevanceSharp.Cli.Explaining;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Onnx;
using RelevanceSharp.Vision.Imaging;

namespace RelevanceSharp.Cli.Commands;

/// <summary>
/// <c>relevance inspect MODEL.onnx</c>: what the import made of an ONNX file: its interface, every node the output
/// needs with its operator and output shape, the modules it became, and the rule each module gets under a composite.
/// </summary>
public static class InspectCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("model") { Description = "The ONNX file (.onnx)." };
        var onnxInput = OnnxOptions.Input();
        var onnxOutput = OnnxOptions.Output(explain: true);
        var composite = new Option<string>("--composite", "-c")
        {
            Description = "The composite whose rules are listed, as explain takes it: NAME[(ARG=VALUE,...)] (its canonizers are not applied here).",
            DefaultValueFactory = _ => "epsilon_plus_flat",
        };
        var crop = new Option<int?>("--crop") { Description = "The input side to build the model for, as explain takes it [default: the graph's, or 224 where open]." };
        var mean = new Option<string?>("--mean") { Description = "Normalization means (for the input bounds of epsilon_gamma_box)." };
        var std = new Option<string?>("--std") { Description = "Normalization standard deviations, like --mean." };
        var all = new Option<bool>("--all") { Description = "Also list the nodes computed once at load time (constants, shapes)." };
        var command = new Command("inspect", "List what an ONNX file imports as: nodes, operators, shapes, modules and the rule each gets.")
        {
            file, onnxInput, onnxOutput, composite, crop, mean, std, all,
        };
        command.WithExamples(
            "Nodes computed once at load time (shapes, constants) say 'constant'; Identity, Dropout and casts between float\n" +
            "types are another name for their input ('alias'); a bias added right after a matrix product is part of that\n" +
            "layer ('fused'). A module without a rule passes the ordinary gradient.",
            "relevance inspect model.onnx",
            "relevance inspect model.onnx --composite epsilon_gamma_box --model-output logits");
        command.SetAction(parse => Cli.Run(parse, writer =>
        {
            string path = parse.GetValue(file)!;
            if (!OnnxImport.IsOnnx(path))
            {
                throw new ArgumentException($"inspect reads ONNX files (.onnx); '{path}' is not one.");
            }
            OnnxImport onnx = OnnxImport.Open(path, parse.GetValue(onnxInput), parse.GetValue(onnxOutput), beforeSoftmax: true);
            ImageTransform transform = ExplainCommand.BuildTransform(onnx.DefaultTransform, null, parse.GetValue(crop), parse.GetValue(mean),
                parse.GetValue(std), grayscale: false);
            using OnnxModel model = OnnxModel.Load(path, onnx.LoadOptions(transform.Channels, transform.CropSize));
            var context = AttributionContext.ForInputs(InputBounds.FromNormalization(transform.Mean, transform.Std));
            Composite? rules = AttributionSpec.Parse(parse.GetValue(composite)!).CreateComposite(context);
            Inspect(model, onnx, rules, parse.GetValue(composite)!, parse.GetValue(all), writer);
        }));
        return command;
    }

    /// <summary>Writes the listing.</summary>
    public static void Inspect(OnnxModel model, OnnxImport onnx, Composite? composite, string compositeName, bool all, TextWriter writer)
    {
        writer.WriteLine($"{model.Source}: ONNX operator set {model.Opset}{(model.Producer.Length > 0 ? $", written by {model.Producer}" : "")}");
        writer.WriteLine($"inputs:  {string.Join("; ", model.Inputs)}");
        writer.WriteLine($"outputs: {string.Join("; ", model.Outputs)}");
        string batch = model.BatchSize is { } fixedBatch ? $"batch fixed to {fixedBatch}" : "any batch";
        writer.WriteLine($"built:   input '{model.InputName}' [N, {string.Join(", ", model.InputShape)}]{(onnx.ChannelsLast ? " (channels first; the graph's are last)" : "")}, " +
            $"{batch}; output '{model.OutputName}' [{string.Join(", ", model.OutputShape)}]");
        if (onnx.Note is { } note)
        {
            writer.WriteLine($"note:    {note}");
        }
        foreach (string line in model.Notes)
        {
            writer.WriteLine($"note:    {line}");
        }
        Dictionary<string, string> rules = RulesOf(model, composite);
        writer.WriteLine($"rules:   {compositeName}");
        int folded = model.Nodes.Count(n => n.Kind == "constant");
        if (folded > 0 && !all)
        {
            writer.WriteLine($"({folded} nodes computed once at load time are not listed; --all lists them)");
        }
        writer.WriteLine();
        var rows = new List<string[]> { new[] { "node", "operator", "shape", "module", "rule" } };
        var modules = model.named_children().ToDictionary(c => c.name, c => c.module);
        foreach (OnnxNodeInfo node in model.Nodes)
        {
            string shape = node.Shapes.Count == 0 ? "" : string.Join(" ", node.Shapes.Select(s => "[" + string.Join(", ", s) + "]"));
            if (node.Kind == "constant" && !all)
            {
                continue;
            }
            if (node.Modules.Count == 0)
            {
                rows.Add([node.Name, node.Operator, shape, $"({node.Kind})", ""]);
                continue;
            }
            for (int i = 0; i < node.Modules.Count; i++)
            {
                string module = node.Modules[i];
                string type = modules.TryGetValue(module, out var m) ? m.Describe() : "";
                rows.Add([i == 0 ? node.Name : "", i == 0 ? node.Operator : "", i == 0 ? shape : "",
                    module == node.Name.Replace('.', '_') ? type : $"{module}: {type}", rules.GetValueOrDefault(module, "-")]);
            }
        }
        int[] widths = Enumerable.Range(0, 4).Select(c => Math.Min(rows.Max(r => r[c].Length), 60)).ToArray();
        foreach (string[] row in rows)
        {
            writer.WriteLine(string.Join("  ", row.Take(4).Select((cell, c) => cell.PadRight(widths[c]))) + "  " + row[4]);
        }
    }

    /// <summary>The rule of each module under the composite, assigned as registering it would (the first layer first).</summary>
    private static Dictionary<string, string> RulesOf(OnnxModel model, Composite? composite)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (composite is null)
        {
            return result;
        }
        var context = new Dictionary<string, object>();
        foreach (var (name, module) in model.NamedModulesWithRoot())
        {
            if (composite.MapModule(context, name, module) is { } rule)
            {
                result[name] = rule.ToString();
            }
        }
        return result;
    }
}
