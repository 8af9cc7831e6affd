using System.Collections.Concurrent;
using System.Globalization;

namespace RelevanceSharp.Imaging;

/// <summary>An 8-bit RGB color.</summary>
/// <param name="R">Red, 0 to 255.</param>
/// <param name="G">Green, 0 to 255.</param>
/// <param name="B">Blue, 0 to 255.</param>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>White, 255/255/255.</summary>
    public static Rgb White => new(255, 255, 255);

    /// <summary>Black, 0/0/0.</summary>
    public static Rgb Black => new(0, 0, 0);
}

/// <summary>
/// A piecewise-linear color map compiled from zennit's color-map notation, e.g. <c>00f,80:fff,f00</c>.
/// </summary>
/// <remarks>
/// <para>
/// The notation is a comma-separated list of colors, each 3 (<c>f80</c>, every digit doubled) or 6 (<c>ff8800</c>)
/// hexadecimal digits. A color may carry a position prefix of 1 or 2 hexadecimal digits and a colon (<c>80:fff</c>);
/// a single digit is doubled, so <c>8:</c> means <c>88:</c>. Positions live on the scale 0 (<c>00</c>) to 255
/// (<c>ff</c>). Whitespace between tokens is ignored and one trailing comma is allowed.
/// </para>
/// <para>
/// Compilation: the first color is pinned to 0 and, unless a position says otherwise, the last one to 255. A first
/// color with a position above 0 holds from 0 up to that position; a last color with a position below 255 holds from
/// there to the end. Colors without a position are spread evenly (positions truncated to integers) between their
/// nearest positioned neighbours. Positions must not decrease from left to right; two colors at the same position
/// make a hard step. Between neighbouring nodes the channels are interpolated linearly.
/// </para>
/// <para>
/// <see cref="Map(double)"/> reads the map at <c>x * 255</c> on that scale; <see cref="Palette(double)"/> samples it
/// into the 256 colors a heatmap uses, with zennit's <c>level</c> contrast setting.
/// </para>
/// </remarks>
public sealed class ColorMap
{
    // Built-in maps, in the order zennit lists them, with zennit's definitions.
    private static readonly (string Name, string Source, string Description)[] BuiltIn =
    [
        ("gray", "000,fff", "black to white"),
        ("wred", "fff,f00", "white to red"),
        ("wblue", "fff,00f", "white to blue"),
        ("hot", "000,f00,ff0,fff", "black, red, yellow, white"),
        ("cold", "000,00f,0ff", "black, blue, cyan"),
        ("coldnhot", "0ff,00f,80:000,f00,ff0,fff", "cold reversed, then hot; black in the middle"),
        ("bwr", "00f,80:fff,f00", "blue, white, red; white in the middle"),
        ("france", "0055a4,80:fff,ef4135", "the blue, white and red of the French flag"),
        ("seismic", "0000d0,80:d0d0d0,d00000", "blue, light gray, red at brightness d0"),
        ("coolio", "00d0d0,80:d0d0d0,d000d0", "cyan, light gray, magenta at brightness d0"),
        ("coleus", "00d000,80:d0d0d0,d000d0", "green, light gray, magenta at brightness d0"),
    ];

    private static readonly ConcurrentDictionary<string, ColorMap> Compiled = new(StringComparer.Ordinal);

    private static readonly ConcurrentDictionary<string, ColorMap> UserMaps = new(StringComparer.Ordinal);

    // Node positions on the 0..256 scale (the last node is always 256) and their colors (0..255 per channel).
    private readonly int[] _positions;
    private readonly Rgb[] _colors;

    private ColorMap(string source, string? name, int[] positions, Rgb[] colors)
    {
        Source = source;
        Name = name;
        _positions = positions;
        _colors = colors;
    }

    /// <summary>The notation this map was compiled from.</summary>
    public string Source { get; }

    /// <summary>The built-in name of this map, or <c>null</c> for a map compiled from notation.</summary>
    public string? Name { get; }

    /// <summary>The names of the built-in maps, in zennit's order.</summary>
    public static IReadOnlyList<string> Names { get; } = BuiltIn.Select(m => m.Name).ToArray();

    /// <summary>The notation of each built-in map, by name.</summary>
    public static IReadOnlyDictionary<string, string> NamedSources { get; } =
        BuiltIn.ToDictionary(m => m.Name, m => m.Source, StringComparer.Ordinal);

    /// <summary>A one-line description of each built-in map, by name (for help texts).</summary>
    public static IReadOnlyDictionary<string, string> Descriptions { get; } =
        BuiltIn.ToDictionary(m => m.Name, m => m.Description, StringComparer.Ordinal);

    /// <summary>The nodes of the compiled map: positions on the 0..256 scale and their colors.</summary>
    public IReadOnlyList<(int Position, Rgb Color)> Nodes => _positions.Zip(_colors).ToArray();

    /// <summary>
    /// Returns the built-in map called <paramref name="nameOrSource"/> (compiled once and cached), or else compiles
    /// it as color-map notation.
    /// </summary>
    /// <exception cref="ArgumentException">It is neither a built-in name nor valid notation.</exception>
    public static ColorMap Get(string nameOrSource)
    {
        ArgumentNullException.ThrowIfNull(nameOrSource);
        if (NamedSources.TryGetValue(nameOrSource, out string? source))
        {
            return Compiled.GetOrAdd(nameOrSource, name => Compile(source, name));
        }
        if (UserMaps.TryGetValue(nameOrSource, out ColorMap? registered))
        {
            return registered;
        }
        try
        {
            return Compile(nameOrSource, null);
        }
        catch (ArgumentException ex) when (LooksLikeName(nameOrSource))
        {
            throw new ArgumentException(
                $"'{nameOrSource}' is neither a built-in color map ({string.Join(", ", Names)}) nor valid color-map notation: {ex.Message}",
                ex);
        }
    }

    /// <summary>The names of the color maps registered with <see cref="Register"/>, in no particular order.</summary>
    public static IReadOnlyCollection<string> RegisteredNames => UserMaps.Keys.ToArray();

    /// <summary>
    /// Makes a color map known by name, to <see cref="Get"/> and so to <c>relevance explain --colormap</c>: the
    /// notation is compiled (and checked) now.
    /// </summary>
    /// <exception cref="ArgumentException">The name is taken or not letters, digits, '_' and '-', or the notation is invalid.</exception>
    public static ColorMap Register(string name, string source)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(source);
        if (name.Length == 0 || !char.IsAsciiLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            throw new ArgumentException($"'{name}' cannot name a color map: use letters, digits, '_' and '-', starting with a letter.", nameof(name));
        }
        if (NamedSources.ContainsKey(name))
        {
            throw new ArgumentException($"'{name}' is a built-in color map.", nameof(name));
        }
        ColorMap map = Compile(source, name);
        if (!UserMaps.TryAdd(name, map))
        {
            throw new ArgumentException($"A color map named '{name}' is already registered.", nameof(name));
        }
        return map;
    }

    /// <summary>Compiles color-map notation such as <c>00f,80:fff,f00</c>.</summary>
    /// <exception cref="ArgumentException">The notation is invalid; the message names the offending token.</exception>
    public static ColorMap Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Compile(source, null);
    }

    /// <summary>
    /// Reads the map at <paramref name="x"/> (clamped to [0, 1]; NaN reads as 0) and returns red, green and blue in
    /// [0, 1].
    /// </summary>
    public (double R, double G, double B) Map(double x)
    {
        double scaled = double.IsNaN(x) ? 0.0 : Math.Clamp(x * 255.0, 0.0, 255.0);
        // The segment starts at the last node at or below the value; the final node (256) only ever ends a segment.
        int upper = 1;
        while (upper < _positions.Length - 1 && _positions[upper] <= scaled)
        {
            upper++;
        }
        int lower = upper - 1;
        double alpha = (scaled - _positions[lower]) / (_positions[upper] - _positions[lower]);
        Rgb a = _colors[lower];
        Rgb b = _colors[upper];
        return (
            (a.R * (1.0 - alpha) + b.R * alpha) / 255.0,
            (a.G * (1.0 - alpha) + b.G * alpha) / 255.0,
            (a.B * (1.0 - alpha) + b.B * alpha) / 255.0);
    }

    /// <summary>
    /// Samples the map into 256 colors: entry <c>i</c> is the color for the normalized value <c>i / 255</c>.
    /// </summary>
    /// <param name="level">
    /// Contrast. Entry <c>i</c> reads the map at <c>(t * level + 1) / 2</c> (clamped to [0, 1]) where <c>t</c> runs
    /// evenly from -1 to 1, so 1 uses the whole map; below 1 the colors stay closer to the middle of the map (0 gives
    /// the middle color everywhere); above 1 the ends are reached early, with a steeper transition in the middle.
    /// </param>
    public Rgb[] Palette(double level = 1.0)
    {
        if (!double.IsFinite(level))
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "The level must be a finite number.");
        }
        var palette = new Rgb[256];
        const double Step = 2.0 / 255.0;
        for (int i = 0; i < 256; i++)
        {
            // Evenly spaced from -1 to 1 in the same floating-point steps as zennit, so entries agree to the bit.
            double t = i == 255 ? 1.0 : i * Step - 1.0;
            double x = Math.Clamp((t * level + 1.0) / 2.0, 0.0, 1.0);
            var (r, g, b) = Map(x);
            palette[i] = new Rgb(ToByte(r), ToByte(g), ToByte(b));
        }
        return palette;
    }

    /// <inheritdoc />
    public override string ToString() => Name is null ? Source : $"{Name} ({Source})";

    // Scales a channel in [0, 1] to 0..255 and truncates; rounding to 12 decimals first keeps values such as
    // 127.99999999999997 (which stand for 128) from dropping to 127.
    private static byte ToByte(double channel)
    {
        double scaled = Math.Round(channel * 255.0 * 1e12, MidpointRounding.ToEven) / 1e12;
        return (byte)Math.Clamp(scaled, 0.0, 255.0);
    }

    private static bool LooksLikeName(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-') && text.Any(c => !char.IsAsciiHexDigit(c));

    private static ColorMap Compile(string source, string? name)
    {
        List<(int? Position, Rgb Color)> entries = ParseEntries(source);
        if (entries.Count < 2)
        {
            throw new ArgumentException(
                $"Color map '{source}' has {entries.Count} color(s); at least 2 are needed.");
        }
        var (positions, colors) = Layout(source, entries);
        return new ColorMap(source, name, positions, colors);
    }

    // Turns the entries into nodes on the 0..256 scale.
    private static (int[] Positions, Rgb[] Colors) Layout(string source, List<(int? Position, Rgb Color)> entries)
    {
        var positions = new List<int> { 0 };
        var colors = new List<Rgb> { entries[0].Color };
        if (entries[0].Position is > 0 and int first)
        {
            positions.Add(first);
            colors.Add(entries[0].Color);
        }
        var pending = new List<Rgb>();
        for (int i = 1; i < entries.Count; i++)
        {
            var (position, color) = entries[i];
            bool last = i == entries.Count - 1;
            if (position is null && !last)
            {
                pending.Add(color);
                continue;
            }
            int at = position ?? 255;
            int previous = positions[^1];
            if (at < previous)
            {
                throw new ArgumentException(
                    $"Color map '{source}': position {at:x2} of color {i + 1} comes after position {previous:x2}; positions must not decrease.");
            }
            // Spread the colors without a position evenly between the neighbouring nodes.
            double step = 1.0 / (pending.Count + 1);
            for (int k = 0; k < pending.Count; k++)
            {
                double alpha = (k + 1) * step;
                positions.Add((int)(previous * (1.0 - alpha) + at * alpha));
                colors.Add(pending[k]);
            }
            pending.Clear();
            positions.Add(at);
            colors.Add(color);
        }
        positions.Add(256);
        colors.Add(colors[^1]);
        return (positions.ToArray(), colors.ToArray());
    }

    // Reads "[pos:]color" entries separated by commas. Letters and digits are read in maximal runs, which must be
    // hexadecimal: a run of 3 or 6 digits is a color, a run of 1 or 2 a position (followed by a colon and a color).
    // This accepts exactly what zennit's lexer accepts, and names a whole bad word in errors.
    private static List<(int? Position, Rgb Color)> ParseEntries(string source)
    {
        var entries = new List<(int? Position, Rgb Color)>();
        int? position = null;
        bool colon = false;
        bool needSeparator = false;
        int i = 0;
        while (i < source.Length)
        {
            char c = source[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            int start = i;
            if (char.IsAsciiLetterOrDigit(c))
            {
                while (i < source.Length && char.IsAsciiLetterOrDigit(source[i]))
                {
                    i++;
                }
                string run = source[start..i];
                if (!run.All(char.IsAsciiHexDigit))
                {
                    throw Unexpected(source, run, start, "it is not a hexadecimal number");
                }
                if (needSeparator)
                {
                    throw Unexpected(source, run, start, "a comma was expected after the previous color");
                }
                if (run.Length is 3 or 6)
                {
                    if (position is not null && !colon)
                    {
                        throw Unexpected(source, run, start, "a colon was expected after the position");
                    }
                    entries.Add((position, ParseColor(run)));
                    position = null;
                    colon = false;
                    needSeparator = true;
                }
                else if (run.Length is 1 or 2 && position is null)
                {
                    position = int.Parse(run.Length == 1 ? new string(run[0], 2) : run, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                }
                else if (run.Length is 1 or 2)
                {
                    throw Unexpected(source, run, start, "a color of 3 or 6 hex digits was expected after the position");
                }
                else
                {
                    throw Unexpected(source, run, start,
                        $"it has {run.Length} hex digits; a color needs 3 or 6, a position 1 or 2");
                }
                continue;
            }
            i++;
            if (c == ':' && position is not null && !colon)
            {
                colon = true;
            }
            else if (c == ',' && needSeparator)
            {
                needSeparator = false;
            }
            else
            {
                string why = c switch
                {
                    ':' => "a colon must follow a position of 1 or 2 hex digits",
                    ',' when position is not null => "a position must be followed by ':' and a color",
                    ',' => "a comma must follow a color",
                    _ => "only hex digits, ':', ',' and whitespace are allowed",
                };
                throw Unexpected(source, c.ToString(), start, why);
            }
        }
        if (position is not null)
        {
            throw new ArgumentException(
                $"Color map '{source}' ends after a position; a color was expected.");
        }
        return entries;
    }

    private static Rgb ParseColor(string hex)
    {
        int Channel(int index) => hex.Length == 3
            ? Convert.ToInt32(new string(hex[index], 2), 16)
            : Convert.ToInt32(hex.Substring(2 * index, 2), 16);
        return new Rgb((byte)Channel(0), (byte)Channel(1), (byte)Channel(2));
    }

    private static ArgumentException Unexpected(string source, string token, int offset, string why) =>
        new($"Color map '{source}': unexpected '{token}' at position {offset}: {why}.");
}
