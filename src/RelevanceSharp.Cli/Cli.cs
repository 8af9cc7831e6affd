using RelevanceSharp.Attribution;
using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using RelevanceSharp.Cli.Commands;

namespace RelevanceSharp.Cli;

/// <summary>
/// The command line of the <c>relevance</c> tool: its command tree (<see cref="BuildRoot"/>), and running a command's
/// work so that failures become a one-line message and a non-zero exit code.
/// </summary>
public static class Cli
{
    /// <summary>The option every command takes: on an error, also print the exception and its stack trace.</summary>
    public static Option<bool> Verbose { get; } = new("--verbose")
    {
        Description = "On an error, also print the exception with its stack trace (for bug reports).",
        Recursive = true,
    };

    /// <summary>Builds the root command with all subcommands.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("RelevanceSharp: explain what neural networks see, with Layer-wise Relevance Propagation and related attributions.");
        root.WithExamples("Run 'relevance COMMAND --help' for the options and examples of a command.",
            "relevance demo",
            "relevance explain photos/ --model resnet50 --weights resnet50.pth --canonizer resnet",
            "relevance explain photos/ --model model.onnx --composite epsilon_plus_flat",
            "relevance explain-text --model demo --prompt \"pairs: cat=3 dog=4 owl=7 | dog\"",
            "relevance composites");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ExplainCommand.Create());
        root.Subcommands.Add(ExplainTextCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(MergeManifestsCommand.Create());
        root.Subcommands.Add(ListCommands.Models());
        root.Subcommands.Add(ListCommands.Composites());
        root.Subcommands.Add(ListCommands.Canonizers());
        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(TrainDemoCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Options.Add(Verbose);
        CommandHelp.Install(root);
        return root;
    }

    /// <summary>
    /// Runs <paramref name="work"/> with the invocation's output writer; returns 0, or prints <c>error: ...</c> to the
    /// invocation's error writer and returns 1.
    /// </summary>
    public static int Run(ParseResult parse, Action<TextWriter> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return Run(parse, output =>
        {
            work(output);
            return 0;
        });
    }

    /// <summary>
    /// Runs <paramref name="work"/>, which returns its own exit code, with the invocation's output writer; an exception
    /// becomes <c>error: ...</c> on the invocation's error writer and exit code 1.
    /// </summary>
    public static int Run(ParseResult parse, Func<TextWriter, int> work)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(work);
        TextWriter output = parse.InvocationConfiguration.Output;
        return Run(parse.InvocationConfiguration.Error, () => work(output), parse.GetValue(Verbose));
    }

    /// <summary>
    /// Parses and runs a command line, writing to the given writers. A command line that does not parse gives one
    /// <c>error: ...</c> line (the first problem, and where the help is) instead of the whole help text.
    /// </summary>
    public static int Invoke(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        // Without arguments the tool says what it can do.
        ParseResult parse = BuildRoot().Parse(args.Count == 0 ? ["--help"] : args);
        if (parse.Action is ParseErrorAction && parse.Errors.Count > 0)
        {
            // An unrecognized token explains the other errors (e.g. "Required command was not provided"), so it comes first.
            ParseError first = parse.Errors.FirstOrDefault(e => parse.UnmatchedTokens.Any(t => e.Message.Contains(t, StringComparison.Ordinal)))
                ?? parse.Errors[0];
            string command = string.Join(" ", CommandPath(parse.CommandResult.Command, parse.RootCommandResult.Command));
            // One line, but all of it: System.CommandLine lists the accepted values on the lines that follow.
            string message = string.Join(" ", first.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            error.WriteLine($"error: {message} (see '{command} --help')");
            return 1;
        }
        long before = Attributor.Recomputed;
        int code = parse.Invoke(new InvocationConfiguration { Output = output, Error = error });
        if (Attributor.Recomputed > before)
        {
            error.WriteLine($"note: {Attributor.Recomputed - before} attribution(s) gave non-finite values once and finite ones when computed again; the repeats were used (README, known issues)");
        }
        return code;
    }

    /// <summary>
    /// The values of a command's file and folder arguments. A value that starts with '-' and names no file is a
    /// mistyped option, which the parser took for a path; it is refused by name.
    /// </summary>
    /// <exception cref="ArgumentException">A value is an unknown option.</exception>
    public static string[] Paths(ParseResult parse, Argument<string[]> argument)
    {
        ArgumentNullException.ThrowIfNull(parse);
        string[] given = parse.GetValue(argument) ?? [];
        if (given.FirstOrDefault(i => i.StartsWith('-') && !Path.Exists(i)) is { } unknown)
        {
            throw new ArgumentException($"Unknown option '{unknown}' (see 'relevance {parse.CommandResult.Command.Name} --help').");
        }
        return given;
    }

    /// <summary>The first line of an exception's message (of the innermost meaningful exception).</summary>
    public static string OneLine(Exception ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        Exception shown = ex is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : ex;
        string message = shown.Message.Split('\n')[0].Trim();
        if (shown is ArgumentException { ParamName: { } name })
        {
            message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
        }
        return message.Length == 0 ? shown.GetType().Name : message;
    }

    private static int Run(TextWriter error, Func<int> work, bool verbose)
    {
        try
        {
            return work();
        }
        catch (Exception ex)
        {
            // Every failure, expected or not, is one line; --verbose adds the details for a bug report.
            error.WriteLine($"error: {OneLine(ex)}");
            if (verbose)
            {
                error.WriteLine(ex.ToString());
            }
            return 1;
        }
    }

    private static IEnumerable<string> CommandPath(Command command, Command root)
    {
        yield return "relevance";
        if (!ReferenceEquals(command, root))
        {
            yield return command.Name;
        }
    }
}
