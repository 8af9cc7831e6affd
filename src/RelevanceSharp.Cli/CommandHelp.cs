using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.CompilerServices;

namespace RelevanceSharp.Cli;

/// <summary>
/// Notes and examples shown at the end of a command's <c>--help</c>, so that the command list of the root help
/// keeps one short description per command.
/// </summary>
public static class CommandHelp
{
    private static readonly ConditionalWeakTable<Command, string> Texts = new();

    /// <summary>Adds notes (may be empty) and example command lines to a command's help; returns the command.</summary>
    public static Command WithExamples(this Command command, string notes, params string[] examples)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(examples);
        string text = (notes.Length > 0 ? notes.TrimEnd() + "\n\n" : "") +
            (examples.Length == 1 ? "Example:\n" : "Examples:\n") + string.Concat(examples.Select(e => $"  {e}\n"));
        Texts.AddOrUpdate(command, text);
        return command;
    }

    /// <summary>Makes the help option of <paramref name="root"/> (which covers all subcommands) print the notes and examples too.</summary>
    public static void Install(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        HelpOption help = root.Options.OfType<HelpOption>().Single();
        if (help.Action is HelpAction standard)
        {
            help.Action = new WithNotes(standard);
        }
    }

    private sealed class WithNotes(HelpAction standard) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            int code = standard.Invoke(parseResult);
            if (Texts.TryGetValue(parseResult.CommandResult.Command, out string? text))
            {
                parseResult.InvocationConfiguration.Output.Write(text);
            }
            return code;
        }
    }
}
