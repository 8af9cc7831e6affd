using RelevanceSharp.Imaging;
using SkiaSharp;
using static TorchSharp.torch;

namespace RelevanceSharp.Vision.Imaging;

/// <summary>Layout of an image grid.</summary>
/// <param name="Columns">Images per row; by default zennit's choice, the integer square root of the count.</param>
/// <param name="Spacing">Pixels between cells and around the grid.</param>
/// <param name="FontSize">Label text size in pixels; the label band above each image is 1.5 times as high.</param>
/// <param name="Background">Color of the spacing, label bands and empty cells; white by default.</param>
/// <param name="TextColor">Color of the labels; black by default.</param>
/// <param name="FontFile">
/// A TrueType/OpenType font file for the labels. By default a few usual system locations are tried (DejaVu Sans,
/// Liberation Sans, Arial); when none exists the labels use a built-in bitmap font.
/// </param>
/// <param name="BuiltinFont">Always draw labels with the built-in bitmap font (upper-case letters, digits, some symbols).</param>
public sealed record GridOptions(
    int? Columns = null,
    int Spacing = 4,
    float FontSize = 14f,
    Rgb? Background = null,
    Rgb? TextColor = null,
    string? FontFile = null,
    bool BuiltinFont = false);

/// <summary>Labelled grids of images (heatmaps, overlays, inputs), drawn with SkiaSharp.</summary>
public static class ImageGrid
{
    /// <summary>
    /// Arranges images (<c>(1|3, H, W)</c> in [0, 1], sizes may differ) in a grid, row by row, each in a cell as
    /// large as the largest image, centered, with an optional label drawn above it. Returns <c>(3, H, W)</c>.
    /// </summary>
    /// <param name="images">The images, at least one.</param>
    /// <param name="labels">One label per image (null or empty for none), or null for no labels at all.</param>
    /// <param name="options">Layout and font; defaults as in <see cref="GridOptions"/>.</param>
    public static Tensor Grid(IReadOnlyList<Tensor> images, IReadOnlyList<string?>? labels = null, GridOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        options ??= new GridOptions();
        if (images.Count == 0)
        {
            throw new ArgumentException("A grid needs at least one image.", nameof(images));
        }
        if (labels is not null && labels.Count != images.Count)
        {
            throw new ArgumentException($"{images.Count} images but {labels.Count} labels.", nameof(labels));
        }
        if (options.Columns is < 1 || options.Spacing < 0 || !(options.FontSize > 0))
        {
            throw new ArgumentException("Grid columns and font size must be positive and spacing not negative.", nameof(options));
        }
        int count = images.Count;
        int columns = options.Columns ?? Math.Max(1, (int)Math.Sqrt(count));
        int rows = (count + columns - 1) / columns;
        var bitmaps = new List<SKBitmap>(count);
        try
        {
            foreach (Tensor image in images)
            {
                bitmaps.Add(ImageIO.ToBitmap(image));
            }
            int cellWidth = bitmaps.Max(b => b.Width);
            int cellHeight = bitmaps.Max(b => b.Height);
            bool labelled = labels is not null && labels.Any(l => !string.IsNullOrEmpty(l));
            int band = labelled ? (int)Math.Ceiling(options.FontSize * 1.5) : 0;
            int spacing = options.Spacing;
            int width = columns * cellWidth + (columns + 1) * spacing;
            int height = rows * (band + cellHeight) + (rows + 1) * spacing;

            using var canvasBitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
            using var canvas = new SKCanvas(canvasBitmap);
            canvas.Clear(ToSkia(options.Background ?? Rgb.White));
            using var text = LabelPainter.Create(options);
            for (int i = 0; i < count; i++)
            {
                int left = spacing + i % columns * (cellWidth + spacing);
                int top = spacing + i / columns * (band + cellHeight + spacing);
                SKBitmap bitmap = bitmaps[i];
                canvas.DrawBitmap(bitmap, left + (cellWidth - bitmap.Width) / 2, top + band + (cellHeight - bitmap.Height) / 2);
                string? label = labels?[i];
                if (!string.IsNullOrEmpty(label))
                {
                    text.Draw(canvas, label, SKRectI.Create(left, top, cellWidth, band));
                }
            }
            canvas.Flush();
            return ImageIO.FromBitmap(canvasBitmap);
        }
        finally
        {
            foreach (SKBitmap bitmap in bitmaps)
            {
                bitmap.Dispose();
            }
        }
    }

    /// <summary>The font file <see cref="Grid"/> uses for labels when none is named, or null for the built-in font.</summary>
    public static string? FindSystemFont() => FontCandidates.FirstOrDefault(File.Exists);

    private static readonly string[] FontCandidates =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
        "/Library/Fonts/Arial.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
    ];

    private static SKColor ToSkia(Rgb color) => new(color.R, color.G, color.B);


    /// <summary>Draws label text centered in a band, with a font file or the built-in bitmap font.</summary>
    private sealed class LabelPainter : IDisposable
    {
        private readonly SKPaint _paint;
        private readonly SKTypeface? _typeface;
        private readonly SKFont? _font;
        private readonly float _fontSize;

        private LabelPainter(SKTypeface? typeface, float fontSize, SKColor color)
        {
            _typeface = typeface;
            _fontSize = fontSize;
            _paint = new SKPaint { Color = color, IsAntialias = typeface is not null, Style = SKPaintStyle.Fill };
            if (typeface is not null)
            {
                _font = new SKFont(typeface, fontSize) { Edging = SKFontEdging.Antialias };
            }
        }

        public static LabelPainter Create(GridOptions options)
        {
            SKColor color = ToSkia(options.TextColor ?? Rgb.Black);
            if (options.BuiltinFont)
            {
                return new LabelPainter(null, options.FontSize, color);
            }
            string? file = options.FontFile;
            if (file is not null && !File.Exists(file))
            {
                throw new FileNotFoundException($"Cannot use font '{file}': the file does not exist.", file);
            }
            file ??= FindSystemFont();
            SKTypeface? typeface = file is null ? null : SKTypeface.FromFile(file);
            if (typeface is null && options.FontFile is not null)
            {
                throw new InvalidDataException($"Cannot use font '{options.FontFile}': it is not a font SkiaSharp can read.");
            }
            return new LabelPainter(typeface, options.FontSize, color);
        }

        public void Draw(SKCanvas canvas, string text, SKRectI band)
        {
            canvas.Save();
            canvas.ClipRect(SKRect.Create(band.Left, band.Top, band.Width, band.Height));
            if (_font is not null)
            {
                SKFontMetrics metrics = _font.Metrics;
                float textWidth = _font.MeasureText(text, _paint);
                float x = band.Left + (band.Width - textWidth) / 2;
                float baseline = band.Top + (band.Height - (metrics.Descent - metrics.Ascent)) / 2 - metrics.Ascent;
                canvas.DrawText(text, x, baseline, SKTextAlign.Left, _font, _paint);
            }
            else
            {
                BitmapFont.Draw(canvas, text, band, _fontSize, _paint);
            }
            canvas.Restore();
        }

        public void Dispose()
        {
            _paint.Dispose();
            _font?.Dispose();
            _typeface?.Dispose();
        }
    }

    /// <summary>
    /// A 5x7 pixel font for labels when no font file is at hand: A-Z (lower case drawn as upper case), 0-9 and
    /// common punctuation; other characters show as a hollow box. Each glyph is seven rows of five bits, the most
    /// significant of the five being the leftmost pixel.
    /// </summary>
    internal static class BitmapFont
    {
        private const int GlyphWidth = 5;
        private const int GlyphHeight = 7;

        private static readonly Dictionary<char, byte[]> Glyphs = Build(new Dictionary<char, string>
        {
            ['A'] = "0E11111F111111",
            ['B'] = "1E11111E11111E",
            ['C'] = "0E11101010110E",
            ['D'] = "1E11111111111E",
            ['E'] = "1F10101E10101F",
            ['F'] = "1F10101E101010",
            ['G'] = "0E11101711110F",
            ['H'] = "1111111F111111",
            ['I'] = "0E04040404040E",
            ['J'] = "0702020202120C",
            ['K'] = "11121418141211",
            ['L'] = "1010101010101F",
            ['M'] = "111B1515111111",
            ['N'] = "11111915131111",
            ['O'] = "0E11111111110E",
            ['P'] = "1E11111E101010",
            ['Q'] = "0E11111115120D",
            ['R'] = "1E11111E141211",
            ['S'] = "0F10100E01011E",
            ['T'] = "1F040404040404",
            ['U'] = "1111111111110E",
            ['V'] = "11111111110A04",
            ['W'] = "1111111515150A",
            ['X'] = "11110A040A1111",
            ['Y'] = "1111110A040404",
            ['Z'] = "1F01020408101F",
            ['0'] = "0E11131519110E",
            ['1'] = "040C040404040E",
            ['2'] = "0E11010204081F",
            ['3'] = "1F02040201110E",
            ['4'] = "02060A121F0202",
            ['5'] = "1F101E0101110E",
            ['6'] = "0608101E11110E",
            ['7'] = "1F010204080808",
            ['8'] = "0E11110E11110E",
            ['9'] = "0E11110F01020C",
            [' '] = "00000000000000",
            ['.'] = "00000000000C0C",
            [','] = "000000000C0408",
            [':'] = "000C0C000C0C00",
            [';'] = "000C0C000C0408",
            ['-'] = "0000001F000000",
            ['_'] = "0000000000001F",
            ['+'] = "0004041F040400",
            ['='] = "00001F001F0000",
            ['/'] = "00010204081000",
            ['\\'] = "00100804020100",
            ['('] = "02040808080402",
            [')'] = "08040202020408",
            ['['] = "0E08080808080E",
            [']'] = "0E02020202020E",
            ['%'] = "18190204081303",
            ['!'] = "04040404040004",
            ['?'] = "0E110102040004",
            ['\''] = "0C040800000000",
            ['"'] = "0A0A0A00000000",
            ['#'] = "0A0A1F0A1F0A0A",
            ['*'] = "0004150E150400",
            ['<'] = "02040810080402",
            ['>'] = "08040201020408",
            ['|'] = "04040404040404",
            ['@'] = "0E11171517100F",
            ['&'] = "0C12140815120D",
            ['^'] = "040A1100000000",
        });

        private static readonly byte[] Unknown = Convert.FromHexString("1F11111111111F");

        /// <summary>Whether the font has a glyph of its own for <paramref name="c"/> (case-insensitively).</summary>
        public static bool Has(char c) => Glyphs.ContainsKey(char.ToUpperInvariant(c));

        /// <summary>Draws <paramref name="text"/> centered in <paramref name="band"/>, pixels scaled to the font size.</summary>
        public static void Draw(SKCanvas canvas, string text, SKRectI band, float fontSize, SKPaint paint)
        {
            int scale = Math.Max(1, (int)Math.Round(fontSize / GlyphHeight));
            int advance = (GlyphWidth + 1) * scale;
            int textWidth = text.Length * advance - scale;
            int left = band.Left + (band.Width - textWidth) / 2;
            int top = band.Top + (band.Height - GlyphHeight * scale) / 2;
            for (int i = 0; i < text.Length; i++)
            {
                byte[] rows = Glyphs.GetValueOrDefault(char.ToUpperInvariant(text[i])) ?? Unknown;
                for (int row = 0; row < GlyphHeight; row++)
                {
                    for (int column = 0; column < GlyphWidth; column++)
                    {
                        if ((rows[row] & (1 << (GlyphWidth - 1 - column))) != 0)
                        {
                            canvas.DrawRect(SKRect.Create(left + i * advance + column * scale, top + row * scale, scale, scale), paint);
                        }
                    }
                }
            }
        }

        private static Dictionary<char, byte[]> Build(Dictionary<char, string> hex) =>
            hex.ToDictionary(entry => entry.Key, entry => Convert.FromHexString(entry.Value));
    }
}
