using System.CommandLine;
using RelevanceSharp.Cli.Explaining;

namespace RelevanceSharp.Cli.Commands;

/// <summary>The options the commands that take <c>--model</c> share for ONNX files.</summary>
internal static class OnnxOptions
{
    /// <summary><c>--input NAME</c>: the graph input to explain.</summary>
    public static Option<string?> Input() => new("--input")
    {
        Description = "ONNX models: the graph input to read the images (needed when the graph has several; the message lists them).",
    };

    /// <summary><c>--model-output NAME</c>: the value the model returns.</summary>
    public static Option<string?> Output(bool explain) => new("--model-output")
    {
        Description = "ONNX models: the graph output to " + (explain ? "explain" : "report") + " (needed when the graph has several), or any value a node computes" +
            (explain ? " [default: the only output; the logits before it when it is a final softmax]." : " [default: the only output]."),
    };

    /// <summary>
    /// The ONNX file <c>--model</c> names, opened and with input and output chosen, or <c>null</c> for a zoo or demo model
    /// (then the ONNX options must not be given). Options only zoo and demo models take are refused for an ONNX file.
    /// </summary>
    public static OnnxImport? Open(ParseResult parse, Option<string> model, Option<string?> input, Option<string?> output,
        Option<string?>? weights, Option<int?>? numClasses, Option<string?>? demoFolder, bool beforeSoftmax)
    {
        string name = parse.GetValue(model)!;
        if (!OnnxImport.IsOnnx(name))
        {
            if (parse.GetValue(input) is not null || parse.GetValue(output) is not null)
            {
                throw new ArgumentException("--input and --model-output are for ONNX models (--model FILE.onnx).");
            }
            return null;
        }
        foreach (var (option, given) in new (string, bool)[]
                 {
                     ("--weights", weights is not null && parse.GetValue(weights) is not null),
                     ("--num-classes", numClasses is not null && parse.GetValue(numClasses) is not null),
                     ("--demo-folder", demoFolder is not null && parse.GetValue(demoFolder) is not null),
                 })
        {
            if (given)
            {
                throw new ArgumentException($"{option} is for zoo and demo models; an ONNX file holds its weights and classes.");
            }
        }
        return OnnxImport.Open(name, parse.GetValue(input), parse.GetValue(output), beforeSoftmax);
    }
}
