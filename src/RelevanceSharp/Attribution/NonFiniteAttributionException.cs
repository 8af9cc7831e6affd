namespace RelevanceSharp.Attribution;

/// <summary>
/// An attribution whose model output or relevance holds NaN or infinite values although its input was finite. It
/// names the method, the configuration and, where a repeated pass with checks could tell, the layer where the values
/// first stopped being finite.
/// </summary>
public sealed class NonFiniteAttributionException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteAttributionException(string method, string configuration, string what, string? layer, string where)
        : base($"{method} with {configuration} gave {what} for a finite input; {where}.")
    {
        Method = method;
        Configuration = configuration;
        Layer = layer;
    }

    /// <summary>The attribution method, e.g. <c>Gradient</c>.</summary>
    public string Method { get; }

    /// <summary>The composite and its canonizers, or "no composite".</summary>
    public string Configuration { get; }

    /// <summary>The name of the layer where the values first stopped being finite, where it could be found.</summary>
    public string? Layer { get; }
}
