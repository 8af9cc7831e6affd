namespace RelevanceSharp.Cli;

/// <summary>Runs a command's work and turns failures into a one-line message and a non-zero exit code.</summary>
public static class Cli
{
    /// <summary>Runs <paramref name="work"/>; returns 0, or prints <c>error: ...</c> to standard error and returns 1.</summary>
    public static int Run(Action work)
    {
        try
        {
            work();
            return 0;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"error: {OneLine(ex)}");
            return 1;
        }
    }

    /// <summary>The first line of an exception's message (of the innermost meaningful exception).</summary>
    public static string OneLine(Exception ex)
    {
        Exception shown = ex is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : ex;
        string message = shown.Message.Split('\n')[0].Trim();
        return message.Length == 0 ? shown.GetType().Name : message;
    }
}
