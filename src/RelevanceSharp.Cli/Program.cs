using System.CommandLine;
using RelevanceSharp.Cli;

RootCommand root = Commands.BuildRoot();
return root.Parse(args).Invoke();
