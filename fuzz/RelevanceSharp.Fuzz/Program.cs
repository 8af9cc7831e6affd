using RelevanceSharp.Fuzz;
using SharpFuzz;

// Usage: RelevanceSharp.Fuzz HARNESS              under afl-fuzz (persistent mode, input on stdin)
//        RelevanceSharp.Fuzz HARNESS FILE...      replay inputs, e.g. a crash afl-fuzz found
//        RelevanceSharp.Fuzz --write-seeds DIR    write the seed corpus
if (args.Length == 2 && args[0] == "--write-seeds")
{
    Seeds.Write(args[1]);
    return 0;
}
if (args.Length == 0 || !Harnesses.Names.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: RelevanceSharp.Fuzz {{{string.Join("|", Harnesses.Names)}}} [FILE...]");
    return 2;
}
string harness = args[0];
if (args.Length > 1)
{
    foreach (string file in args.Skip(1))
    {
        Harnesses.Run(harness, File.ReadAllBytes(file));
        Console.WriteLine($"ok  {file}");
    }
    return 0;
}
Fuzzer.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    Harnesses.Run(harness, copy.ToArray());
});
return 0;
