using RelevanceSharp.Cli;

return Cli.Invoke(args, Console.Out, Console.Error);
