using RelevanceSharp.Imaging;

namespace RelevanceSharp.Tests.Imaging;

public class ColorMapTests
{
    // Expected palette entries 0, 128 and 255 at level 1, derived by hand from zennit's definitions.
    // At level 1 entry i reads the map at position i on the 0..255 node scale; channels are truncated to integers.
    // Nodes: the first color sits at 0 and the last at 255 unless positioned; unpositioned inner colors are spread
    // evenly (truncated) between their positioned neighbours.
    public static TheoryData<string, Rgb, Rgb, Rgb> NamedEndsAndMiddle => new()
    {
        // gray 000,fff: nodes 0:000, 255:fff; at 128 each channel is 255 * 128/255 = 128.
        { "gray", new Rgb(0, 0, 0), new Rgb(128, 128, 128), new Rgb(255, 255, 255) },
        // wred fff,f00: at 128 green and blue are 255 * (1 - 128/255) = 127.
        { "wred", new Rgb(255, 255, 255), new Rgb(255, 127, 127), new Rgb(255, 0, 0) },
        // wblue fff,00f: at 128 red and green are 255 * (1 - 128/255) = 127.
        { "wblue", new Rgb(255, 255, 255), new Rgb(127, 127, 255), new Rgb(0, 0, 255) },
        // hot 000,f00,ff0,fff: nodes 0:000, 85:f00 (255/3), 170:ff0 (2*255/3), 255:fff; at 128 green is
        // 255 * (128 - 85) / 85 = 129.
        { "hot", new Rgb(0, 0, 0), new Rgb(255, 129, 0), new Rgb(255, 255, 255) },
        // cold 000,00f,0ff: nodes 0:000, 127:00f (int(255/2)), 255:0ff; at 128 green is 255 * 1/128 = 1.99 -> 1.
        { "cold", new Rgb(0, 0, 0), new Rgb(0, 1, 255), new Rgb(0, 255, 255) },
        // coldnhot 0ff,00f,80:000,f00,ff0,fff: nodes 0:0ff, 64:00f, 128:000, 170:f00, 212:ff0, 255:fff.
        { "coldnhot", new Rgb(0, 255, 255), new Rgb(0, 0, 0), new Rgb(255, 255, 255) },
        // bwr 00f,80:fff,f00: 128 (0x80) is white exactly.
        { "bwr", new Rgb(0, 0, 255), new Rgb(255, 255, 255), new Rgb(255, 0, 0) },
        // france 0055a4,80:fff,ef4135: 0x00,0x55,0xa4 = 0,85,164 and 0xef,0x41,0x35 = 239,65,53.
        { "france", new Rgb(0, 85, 164), new Rgb(255, 255, 255), new Rgb(239, 65, 53) },
        // seismic 0000d0,80:d0d0d0,d00000: 0xd0 = 208.
        { "seismic", new Rgb(0, 0, 208), new Rgb(208, 208, 208), new Rgb(208, 0, 0) },
        // coolio 00d0d0,80:d0d0d0,d000d0.
        { "coolio", new Rgb(0, 208, 208), new Rgb(208, 208, 208), new Rgb(208, 0, 208) },
        // coleus 00d000,80:d0d0d0,d000d0.
        { "coleus", new Rgb(0, 208, 0), new Rgb(208, 208, 208), new Rgb(208, 0, 208) },
    };

    [Theory]
    [MemberData(nameof(NamedEndsAndMiddle))]
    public void NamedMapsHaveTheExpectedEndsAndMiddle(string name, Rgb first, Rgb middle, Rgb last)
    {
        Rgb[] palette = ColorMap.Get(name).Palette();
        Assert.Equal(256, palette.Length);
        Assert.Equal(first, palette[0]);
        Assert.Equal(middle, palette[128]);
        Assert.Equal(last, palette[255]);
    }

    [Fact]
    public void EveryNamedMapIsCheckedAndListed()
    {
        string[] expected = ["gray", "wred", "wblue", "hot", "cold", "coldnhot", "bwr", "france", "seismic", "coolio", "coleus"];
        Assert.Equal(expected, ColorMap.Names);
        Assert.Equal(expected.Order(), NamedEndsAndMiddle.Select(row => (string)row[0]).Order());
        foreach (string name in expected)
        {
            Assert.Equal(name, ColorMap.Get(name).Name);
            Assert.Same(ColorMap.Get(name), ColorMap.Get(name));
            Assert.False(string.IsNullOrWhiteSpace(ColorMap.Descriptions[name]));
        }
    }

    [Theory]
    // gray at x = 0.5 reads position 127.5 of 255: exactly half.
    [InlineData("gray", 0.0, 0.0, 0.0, 0.0)]
    [InlineData("gray", 0.5, 0.5, 0.5, 0.5)]
    [InlineData("gray", 1.0, 1.0, 1.0, 1.0)]
    // bwr at x = 0.5 reads position 127.5, 127.5/128 of the way from 00f to fff: red = green = 127.5/128.
    [InlineData("bwr", 0.5, 127.5 / 128, 127.5 / 128, 1.0)]
    // hot at x = 0.5: position 127.5 between 85:f00 and 170:ff0, green = (127.5 - 85) / 85 = 0.5.
    [InlineData("hot", 0.5, 1.0, 0.5, 0.0)]
    // Values outside [0, 1] are clamped.
    [InlineData("bwr", -3.0, 0.0, 0.0, 1.0)]
    [InlineData("bwr", 7.0, 1.0, 0.0, 0.0)]
    public void MapReadsContinuousValues(string name, double x, double r, double g, double b)
    {
        var (red, green, blue) = ColorMap.Get(name).Map(x);
        Assert.Equal(r, red, 12);
        Assert.Equal(g, green, 12);
        Assert.Equal(b, blue, 12);
    }

    [Theory]
    // Unpositioned inner colors are spread evenly between the neighbouring nodes, positions truncated.
    [InlineData("hot", "0:000 85:f00 170:ff0 255:fff 256:fff")]
    [InlineData("cold", "0:000 127:00f 255:0ff 256:0ff")]
    [InlineData("coldnhot", "0:0ff 64:00f 128:000 170:f00 212:ff0 255:fff 256:fff")]
    [InlineData("bwr", "0:00f 128:fff 255:f00 256:f00")]
    public void NamedMapsCompileToZennitsNodes(string name, string expected)
    {
        Assert.Equal(expected, Describe(ColorMap.Get(name)));
    }

    [Theory]
    // A single position digit is doubled: 8 means 0x88 = 136.
    [InlineData("000,8:fff,000", "0:000 136:fff 255:000 256:000")]
    // A positioned first color holds from 0; a positioned last color holds to the end.
    [InlineData("40:f00,fff", "0:f00 64:f00 255:fff 256:fff")]
    [InlineData("000,80:fff", "0:000 128:fff 256:fff")]
    // Long and short colors; whitespace anywhere between tokens and a trailing comma are accepted.
    [InlineData(" 0000ff , 80 : FFF ,f00, ", "0:00f 128:fff 255:f00 256:f00")]
    // Equal positions make a hard step.
    [InlineData("000,80:000,80:fff,fff", "0:000 128:000 128:fff 255:fff 256:fff")]
    // Unpositioned colors before a positioned one are spread over 0..128.
    [InlineData("000,fff,80:f00,fff", "0:000 64:fff 128:f00 255:fff 256:fff")]
    // Several unpositioned colors after a positioned one: 128 + (255 - 128) * k / 3, truncated.
    [InlineData("000,80:f00,0f0,00f,fff", "0:000 128:f00 170:0f0 212:00f 255:fff 256:fff")]
    public void CustomNotationCompiles(string source, string expected)
    {
        ColorMap map = ColorMap.Parse(source);
        Assert.Equal(expected, Describe(map));
        Assert.Null(map.Name);
        Assert.Equal(source, map.Source);
    }

    [Fact]
    public void NotationOfANamedMapGivesTheSamePalette()
    {
        Assert.Equal(ColorMap.Get("bwr").Palette(), ColorMap.Get("00f,80:fff,f00").Palette());
        Assert.Equal(ColorMap.Get("coldnhot").Palette(), ColorMap.Parse("00ffff, 0000ff, 80:000000, ff0000, ffff00, ffffff").Palette());
    }

    [Fact]
    public void HardStepSwitchesColorAtItsPosition()
    {
        Rgb[] palette = ColorMap.Parse("000,80:000,80:fff,fff").Palette();
        Assert.Equal(Rgb.Black, palette[127]);
        Assert.Equal(Rgb.White, palette[128]);
    }

    [Fact]
    public void LevelChangesTheContrastAsInZennit()
    {
        ColorMap bwr = ColorMap.Get("bwr");
        // Level 0: every entry reads the map at 0.5, position 127.5: red = green = 255 * 127.5/128 = 254.0 -> 254.
        Assert.All(bwr.Palette(0.0), c => Assert.Equal(new Rgb(254, 254, 255), c));
        Rgb[] steep = bwr.Palette(2.0);
        // Level 2: entry 64 reads (2 * (64 * 2/255 - 1) + 1) / 2 = 0.00196, position 0.5: red = 255 * 0.5/128 -> 0.
        Assert.Equal(new Rgb(0, 0, 255), steep[64]);
        // Entry 191 reads 0.99804, position 254.5: green = 255 * (1 - 126.5/127) = 1.004 -> 1.
        Assert.Equal(new Rgb(255, 1, 1), steep[191]);
        Assert.Equal(new Rgb(0, 0, 255), steep[0]);
        Assert.Equal(new Rgb(255, 0, 0), steep[255]);
        // Level 0.5: entry 255 reads 0.75, position 191.25: green = 255 * (1 - 63.25/127) = 128.002 -> 128.
        Assert.Equal(new Rgb(255, 128, 128), bwr.Palette(0.5)[255]);
    }

    [Theory]
    [InlineData("", "at least 2")]
    [InlineData("fff", "1 color(s)")]
    [InlineData("00f,80:ffg", "'ffg' at position 7")]
    [InlineData("00f,,f00", "',' at position 4")]
    [InlineData("00f 80:fff", "'80' at position 4")]
    [InlineData("80:40:fff", "'40' at position 3")]
    [InlineData("00f,80:fff:f00", "':' at position 10")]
    [InlineData("0f,fff", "',' at position 2")]
    [InlineData("ffff,000", "'ffff' at position 0")]
    [InlineData("00f;f00", "';' at position 3")]
    [InlineData("00f,80:", "ends after a position")]
    [InlineData("80 fff,000", "'fff' at position 3")]
    [InlineData("fff,80:000,40:f00", "position 40 of color 3")]
    public void InvalidNotationNamesTheBadToken(string source, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => ColorMap.Parse(source));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void UnknownNameListsTheBuiltInMaps()
    {
        var ex = Assert.Throws<ArgumentException>(() => ColorMap.Get("viridis"));
        Assert.Contains("'viridis'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("coldnhot", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonFiniteLevelIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ColorMap.Get("bwr").Palette(double.NaN));
    }

    private static string Describe(ColorMap map) =>
        string.Join(' ', map.Nodes.Select(n => $"{n.Position}:{Short(n.Color)}"));

    // Writes a color as 3 hex digits when every channel is a doubled digit, as the test expectations do.
    private static string Short(Rgb c) =>
        new[] { c.R, c.G, c.B }.All(v => v % 17 == 0)
            ? $"{c.R / 17:x}{c.G / 17:x}{c.B / 17:x}"
            : $"{c.R:x2}{c.G:x2}{c.B:x2}";
}
