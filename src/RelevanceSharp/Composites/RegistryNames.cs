namespace RelevanceSharp.Composites;

/// <summary>The names the registries accept: what the command line and configuration strings can spell.</summary>
internal static class RegistryNames
{
    /// <summary>Throws unless <paramref name="name"/> is letters, digits and underscores, starting with a letter.</summary>
    public static void Check(string name, string kind)
    {
        if (string.IsNullOrEmpty(name) || !char.IsAsciiLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"'{name}' cannot name a {kind}: use letters, digits and underscores, starting with a letter.");
        }
    }
}
