using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelevanceSharp.Imaging;
using RelevanceSharp.Language.Explaining;

namespace RelevanceSharp.Language.Rendering;

/// <summary>
/// Shows an explanation on the prompt itself: each token in a color for its relevance (red for positive, blue for
/// negative, white for none; zennit's <c>bwr</c> map, scaled by the largest absolute relevance), as ANSI colors for a
/// terminal, as plain text with numbers, as a self-contained HTML page, or as JSON (token, id, relevance).
/// </summary>
public static class TokenHeatmap
{
    /// <summary>The color map: blue, white, red.</summary>
    public static ColorMap Colors { get; } = ColorMap.Get("bwr");

    /// <summary>The color of a relevance, relative to the largest absolute relevance <paramref name="scale"/>.</summary>
    public static Rgb Color(double relevance, double scale)
    {
        double t = scale > 0 && double.IsFinite(relevance) ? Math.Clamp(relevance / scale, -1, 1) : 0;
        // The map's white sits at 128 of 0..255: zero relevance reads exactly there, -1 and +1 at the ends.
        double x = (128 + t * (t < 0 ? 128 : 127)) / 255.0;
        var (r, g, b) = Colors.Map(x);
        return new Rgb(Byte(r), Byte(g), Byte(b));
    }

    /// <summary>Whether white text reads better than black on <paramref name="color"/>.</summary>
    public static bool Dark(Rgb color) => 0.299 * color.R + 0.587 * color.G + 0.114 * color.B < 128;

    private static byte Byte(double v) => (byte)Math.Round(Math.Clamp(v, 0, 1) * 255);

    /// <summary>The largest absolute relevance (at least the smallest positive number, so that it can divide).</summary>
    public static double Scale(TextExplanation explanation)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        double max = explanation.Relevance.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
        return max > 0 ? max : double.Epsilon;
    }

    /// <summary>How a token is shown in a line of text: control characters made visible (a newline as ↵, a tab as →).</summary>
    public static string Visible(string text) => new(text.Select(c => c switch
    {
        '\n' => '↵',
        '\r' => '␍',
        '\t' => '→',
        _ when char.IsControl(c) => '·',
        _ => c,
    }).ToArray());

    /// <summary>One line that says what was explained: method, score, target (and contrast), position, total relevance.</summary>
    public static string Summary(TextExplanation e)
    {
        ArgumentNullException.ThrowIfNull(e);
        string score = e.ScoreKind == ExplainedScore.Logit ? "logit" : "log-probability";
        string what = e.ContrastId is { } c ? $"{score} of {Quote(e.TargetText)} ({e.TargetId}) minus {Quote(e.ContrastText!)} ({c})" : $"{score} of {Quote(e.TargetText)} ({e.TargetId})";
        return string.Create(CultureInfo.InvariantCulture,
            $"{e.Method}: {what} after token {e.Position} = {e.Score:G5} (p = {e.Probability:G3}; predicted {Quote(e.PredictedText)}); relevance sums to {e.Total:G5}");
    }

    private static string Quote(string text) => "\"" + Visible(text) + "\"";

    /// <summary>The prompt with each token's background in its color (24-bit ANSI escapes), then the summary line.</summary>
    public static string Ansi(TextExplanation explanation)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        double scale = Scale(explanation);
        var text = new StringBuilder();
        for (int i = 0; i < explanation.Tokens.Count; i++)
        {
            Rgb c = Color(explanation.Relevance[i], scale);
            // Black text on light colors, white on dark ones.
            text.Append(CultureInfo.InvariantCulture, $"\u001b[48;2;{c.R};{c.G};{c.B}m\u001b[{(Dark(c) ? "97" : "30")}m");
            text.Append(Visible(explanation.Tokens[i].Text)).Append("\u001b[0m");
        }
        return text.Append('\n').Append(Summary(explanation)).Append('\n').ToString();
    }

    /// <summary>
    /// The prompt with each token followed by its relevance, <c>[text|+0.123]</c>, then one line per token (position,
    /// id, relevance, text) and the summary line: for logs and pipes.
    /// </summary>
    public static string Plain(TextExplanation explanation)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        var text = new StringBuilder();
        for (int i = 0; i < explanation.Tokens.Count; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"[{Visible(explanation.Tokens[i].Text)}|{explanation.Relevance[i]:+0.000;-0.000;0.000}]");
        }
        text.Append('\n');
        for (int i = 0; i < explanation.Tokens.Count; i++)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"{i,5} {explanation.Tokens[i].Id,8} {explanation.Relevance[i],14:+0.000000E+00;-0.000000E+00;0} {Quote(explanation.Tokens[i].Text)}\n");
        }
        return text.Append(Summary(explanation)).Append('\n').ToString();
    }

    /// <summary>
    /// The explanation as JSON: what was explained, and per token its position, text, id, relevance (and the relevance of
    /// each embedding dimension, when the explanation has it).
    /// </summary>
    public static string Json(TextExplanation explanation, string? model = null)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        var tokens = new JsonArray();
        for (int i = 0; i < explanation.Tokens.Count; i++)
        {
            var token = new JsonObject
            {
                ["index"] = i,
                ["token"] = explanation.Tokens[i].Text,
                ["piece"] = explanation.Tokens[i].Piece,
                ["id"] = explanation.Tokens[i].Id,
                ["special"] = explanation.Tokens[i].Special,
                ["relevance"] = Number(explanation.Relevance[i]),
            };
            if (explanation.PerDimension is { } dims)
            {
                token["dimensions"] = new JsonArray(dims[i].Select(v => (JsonNode?)Number(v)).ToArray());
            }
            tokens.Add(token);
        }
        var root = new JsonObject
        {
            ["model"] = model,
            ["method"] = explanation.Method,
            ["position"] = explanation.Position,
            ["score_kind"] = explanation.ScoreKind == ExplainedScore.Logit ? "logit" : "log_probability",
            ["score"] = Number(explanation.Score),
            ["probability"] = Number(explanation.Probability),
            ["target"] = new JsonObject { ["id"] = explanation.TargetId, ["text"] = explanation.TargetText },
            ["contrast"] = explanation.ContrastId is { } c ? new JsonObject { ["id"] = c, ["text"] = explanation.ContrastText } : null,
            ["predicted"] = new JsonObject { ["id"] = explanation.PredictedId, ["text"] = explanation.PredictedText },
            ["total_relevance"] = Number(explanation.Total),
            ["tokens"] = tokens,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    // JSON has no NaN or infinity: those become null.
    private static JsonNode? Number(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;

    /// <summary>
    /// A self-contained HTML page (no scripts, no external files): the summary, the prompt with each token on its color
    /// (position, id and relevance in its tooltip), the color scale, and a table of every token.
    /// </summary>
    public static string Html(TextExplanation explanation, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        double scale = Scale(explanation);
        string Encode(string s) => WebUtility.HtmlEncode(s);
        string Css(Rgb c) => $"#{c.R:x2}{c.G:x2}{c.B:x2}";
        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        page.Append(CultureInfo.InvariantCulture, $"<title>{Encode(title ?? "Relevance of the prompt's tokens")}</title>\n");
        page.Append("<style>\n")
            .Append("body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 2em; color: #222; }\n")
            .Append(".prompt { font-family: 'DejaVu Sans Mono', monospace; font-size: 18px; line-height: 2; white-space: pre-wrap; ")
            .Append("border: 1px solid #ccc; padding: 0.6em; }\n")
            .Append(".token { border-radius: 3px; padding: 2px 0; }\n")
            .Append(".special { font-style: italic; color: #666; }\n")
            .Append(".scale { display: flex; align-items: center; gap: 0.5em; margin: 1em 0; }\n")
            .Append(".bar { width: 240px; height: 14px; border: 1px solid #ccc; }\n")
            .Append("table { border-collapse: collapse; margin-top: 1em; }\n")
            .Append("td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }\n")
            .Append("td.text { text-align: left; font-family: 'DejaVu Sans Mono', monospace; white-space: pre; }\n")
            .Append("</style>\n</head>\n<body>\n");
        page.Append(CultureInfo.InvariantCulture, $"<h1>{Encode(title ?? "Relevance of the prompt's tokens")}</h1>\n");
        page.Append(CultureInfo.InvariantCulture, $"<p id=\"summary\">{Encode(Summary(explanation))}</p>\n");
        page.Append("<div class=\"prompt\" id=\"prompt\">");
        for (int i = 0; i < explanation.Tokens.Count; i++)
        {
            var token = explanation.Tokens[i];
            double r = explanation.Relevance[i];
            string tip = string.Create(CultureInfo.InvariantCulture, $"position {i}, id {token.Id}, relevance {r:G6}");
            Rgb color = Color(r, scale);
            string ink = Dark(color) ? "; color: #fff" : "";
            page.Append(CultureInfo.InvariantCulture,
                $"<span class=\"token{(token.Special ? " special" : "")}\" data-index=\"{i}\" data-id=\"{token.Id}\" data-relevance=\"{r.ToString("R", CultureInfo.InvariantCulture)}\" style=\"background-color: {Css(color)}{ink}\" title=\"{Encode(tip)}\">{Encode(token.Text)}</span>");
        }
        page.Append("</div>\n");
        page.Append(CultureInfo.InvariantCulture,
            $"<div class=\"scale\"><span>{-scale:G3}</span><div class=\"bar\" style=\"background: linear-gradient(to right, {Css(Color(-1, 1))}, {Css(Color(0, 1))}, {Css(Color(1, 1))})\"></div><span>{scale:G3}</span></div>\n");
        page.Append("<table id=\"tokens\">\n<tr><th>position</th><th>token</th><th>id</th><th>relevance</th></tr>\n");
        for (int i = 0; i < explanation.Tokens.Count; i++)
        {
            page.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{i}</td><td class=\"text\">{Encode(Visible(explanation.Tokens[i].Text))}</td><td>{explanation.Tokens[i].Id}</td><td>{explanation.Relevance[i]:G6}</td></tr>\n");
        }
        page.Append("</table>\n</body>\n</html>\n");
        return page.ToString();
    }
}
