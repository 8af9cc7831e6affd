using RelevanceSharp.Imaging;
using RelevanceSharp.Vision.Imaging;
using RelevanceSharp.Language.Explaining;
using RelevanceSharp.Language.Rendering;
using SkiaSharp;

namespace RelevanceSharp.Cli.Texts;

/// <summary>
/// The token heatmap as a PNG: the prompt's tokens on their colors, wrapped to the width, a newline token ending its
/// line, then the summary line and the color scale. Drawn with a system font (DejaVu Sans Mono or DejaVu Sans where
/// installed; SkiaSharp's default otherwise).
/// </summary>
internal static class TokenPng
{
    private static readonly string[] MonospaceFonts =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
        "/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
        "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
    ];

    public static byte[] Render(TextExplanation explanation, int width = 1000, float fontSize = 22)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        string? file = MonospaceFonts.FirstOrDefault(File.Exists) ?? ImageGrid.FindSystemFont();
        using SKTypeface typeface = (file is null ? null : SKTypeface.FromFile(file)) ?? SKTypeface.Default;
        using var font = new SKFont(typeface, fontSize) { Edging = SKFontEdging.Antialias };
        using var small = new SKFont(typeface, fontSize * 0.7f) { Edging = SKFontEdging.Antialias };
        using var paint = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill };
        const float Margin = 20, Pad = 2;
        float line = fontSize * 1.7f;
        double scale = TokenHeatmap.Scale(explanation);

        // Layout: each token's box, wrapping at the right margin and after a newline token.
        var boxes = new List<(SKRect Box, string Text, Rgb Color)>();
        float x = Margin, y = Margin;
        for (int i = 0; i < explanation.Tokens.Count; i++)
        {
            string text = TokenHeatmap.Visible(explanation.Tokens[i].Text);
            float w = font.MeasureText(text) + 2 * Pad;
            if (x + w > width - Margin && x > Margin)
            {
                x = Margin;
                y += line;
            }
            boxes.Add((SKRect.Create(x, y, w, line * 0.85f), text, TokenHeatmap.Color(explanation.Relevance[i], scale)));
            x += w;
            if (explanation.Tokens[i].Text.Contains('\n', StringComparison.Ordinal))
            {
                x = Margin;
                y += line;
            }
        }
        string[] summary = Wrap(TokenHeatmap.Summary(explanation), small, width - 2 * Margin);
        float summaryTop = y + line * 1.4f;
        float barTop = summaryTop + summary.Length * fontSize * 1.1f + 10;
        int height = (int)Math.Ceiling(barTop + 16 + fontSize + Margin);

        using var bitmap = new SKBitmap(width, height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        foreach (var (box, text, color) in boxes)
        {
            paint.Color = new SKColor(color.R, color.G, color.B);
            canvas.DrawRect(box, paint);
            paint.Color = TokenHeatmap.Dark(color) ? SKColors.White : SKColors.Black;
            canvas.DrawText(text, box.Left + Pad, box.Top + box.Height * 0.75f, SKTextAlign.Left, font, paint);
        }
        paint.Color = new SKColor(0x33, 0x33, 0x33);
        for (int i = 0; i < summary.Length; i++)
        {
            canvas.DrawText(summary[i], Margin, summaryTop + (i + 1) * fontSize * 1.1f - fontSize * 0.3f, SKTextAlign.Left, small, paint);
        }
        // The color scale: -max ... +max.
        string low = (-scale).ToString("G3", System.Globalization.CultureInfo.InvariantCulture);
        string high = scale.ToString("G3", System.Globalization.CultureInfo.InvariantCulture);
        float barLeft = Margin + small.MeasureText(low) + 8, barWidth = 240;
        for (int i = 0; i < barWidth; i++)
        {
            Rgb c = TokenHeatmap.Color(2.0 * i / (barWidth - 1) - 1.0, 1.0);
            paint.Color = new SKColor(c.R, c.G, c.B);
            canvas.DrawRect(SKRect.Create(barLeft + i, barTop, 1, 16), paint);
        }
        paint.Color = SKColors.Black;
        canvas.DrawText(low, Margin, barTop + 14, SKTextAlign.Left, small, paint);
        canvas.DrawText(high, barLeft + barWidth + 8, barTop + 14, SKTextAlign.Left, small, paint);
        using SKData data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static string[] Wrap(string text, SKFont font, float width)
    {
        var lines = new List<string>();
        string current = "";
        foreach (string word in text.Split(' '))
        {
            string candidate = current.Length == 0 ? word : current + " " + word;
            if (font.MeasureText(candidate) > width && current.Length > 0)
            {
                lines.Add(current);
                current = word;
            }
            else
            {
                current = candidate;
            }
        }
        lines.Add(current);
        return lines.ToArray();
    }
}
