using TorchSharp;

namespace RelevanceSharp.Cli;

/// <summary>Sets libtorch's number of intra-op threads for the duration of a command, and restores it afterwards.</summary>
public sealed class TorchThreads : IDisposable
{
    private readonly int previous;

    private TorchThreads(int threads)
    {
        previous = torch.get_num_threads();
        torch.set_num_threads(threads);
    }

    /// <summary>Uses <paramref name="threads"/> threads until the result is disposed.</summary>
    public static TorchThreads Use(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentException($"The number of threads must be at least 1; got {threads}.");
        }
        // More threads than cores only wait for each other (and tens of thousands never finish starting).
        if (threads > Environment.ProcessorCount)
        {
            throw new ArgumentException(
                $"--threads {threads} is more than the {Environment.ProcessorCount} cores of this machine; use at most {Environment.ProcessorCount}.");
        }
        return new TorchThreads(threads);
    }

    /// <summary>Restores the previous number of threads.</summary>
    public void Dispose() => torch.set_num_threads(previous);
}
