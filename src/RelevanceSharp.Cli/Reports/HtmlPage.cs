using System.Net;
using System.Text;

namespace RelevanceSharp.Cli.Reports;

/// <summary>A column of an <see cref="HtmlTable"/>: its heading and how it sorts.</summary>
/// <param name="Heading">The heading text.</param>
/// <param name="Sort">How a click on the heading sorts the rows: <c>"text"</c>, <c>"number"</c>, or <c>null</c> for not at all.</param>
internal sealed record HtmlColumn(string Heading, string? Sort = null);

/// <summary>A cell: its HTML, and the value it sorts by (its text when <c>null</c>).</summary>
internal sealed record HtmlCell(string Html, string? SortKey = null)
{
    /// <summary>A cell holding plain text.</summary>
    public static HtmlCell Text(string text, string? sortKey = null) => new(HtmlPage.Escape(text), sortKey);
}

/// <summary>A table of an <see cref="HtmlPage"/>, sortable by the columns that say how and filterable by a text box.</summary>
/// <param name="Id">The table's element id.</param>
/// <param name="Columns">The columns.</param>
/// <param name="Rows">The rows, each with one cell per column.</param>
/// <param name="Filter">The text box's placeholder, or <c>null</c> for no filter.</param>
internal sealed record HtmlTable(string Id, IReadOnlyList<HtmlColumn> Columns, IReadOnlyList<IReadOnlyList<HtmlCell>> Rows, string? Filter = null)
{
    /// <summary>
    /// Headings over groups of the last columns (each with the number it spans), in a first heading row; the columns
    /// before them span both rows. Empty for one heading row.
    /// </summary>
    public IReadOnlyList<(string Heading, int Span)> Groups { get; init; } = [];
}

/// <summary>
/// One self-contained HTML page for the reports of <c>relevance explain</c> and <c>relevance evaluate</c>: its style and
/// its one script inline, images by paths relative to the page, nothing fetched from a network and no external font.
/// The script sorts a table when a heading is clicked (numbers as numbers) and hides the rows a filter box does not
/// match, counting those shown.
/// </summary>
internal sealed class HtmlPage(string title)
{
    private const string Style = """
        body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em; color: #1b1b1b; background: #fff; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
        table { border-collapse: collapse; margin: 0.5em 0; }
        th, td { border: 1px solid #d0d0d0; padding: 4px 8px; text-align: left; vertical-align: middle; }
        th { background: #f1f1f1; position: sticky; top: 0; }
        th[data-sort] { cursor: pointer; user-select: none; }
        th[aria-sort="ascending"]::after { content: " \25B2"; } th[aria-sort="descending"]::after { content: " \25BC"; }
        td.number { text-align: right; font-variant-numeric: tabular-nums; }
        img.map { height: 112px; image-rendering: pixelated; display: block; }
        figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #d0d0d0; }
        pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
        .filter { margin: 0.4em 0; padding: 4px 6px; width: 22em; } .count { color: #555; margin-left: 0.6em; }
        .note { color: #444; } .error { color: #a00000; }
        """;

    private const string Script = """
        (function () {
          function key(cell) {
            var value = cell.getAttribute('data-key');
            return value === null ? cell.textContent.trim() : value;
          }
          document.querySelectorAll('table.sortable').forEach(function (table) {
            var headings = table.tHead.rows[0].cells;
            Array.prototype.forEach.call(headings, function (heading, index) {
              if (!heading.hasAttribute('data-sort')) { return; }
              heading.tabIndex = 0;
              heading.addEventListener('click', function () {
                var numeric = heading.getAttribute('data-sort') === 'number';
                var ascending = heading.getAttribute('aria-sort') !== 'ascending';
                Array.prototype.forEach.call(headings, function (other) { other.removeAttribute('aria-sort'); });
                heading.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
                var body = table.tBodies[0];
                var rows = Array.prototype.slice.call(body.rows);
                rows.sort(function (a, b) {
                  var x = key(a.cells[index]), y = key(b.cells[index]);
                  var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
                  return ascending ? order : -order;
                });
                rows.forEach(function (row) { body.appendChild(row); });
              });
            });
          });
          document.querySelectorAll('input.filter').forEach(function (input) {
            var table = document.getElementById(input.getAttribute('data-table'));
            var count = document.getElementById(input.getAttribute('data-count'));
            function apply() {
              var query = input.value.trim().toLowerCase();
              var rows = table.tBodies[0].rows, shown = 0;
              Array.prototype.forEach.call(rows, function (row) {
                var match = query === '' || row.textContent.toLowerCase().indexOf(query) >= 0;
                row.hidden = !match;
                if (match) { shown++; }
              });
              count.textContent = shown + ' of ' + rows.length + ' shown';
            }
            input.addEventListener('input', apply);
            apply();
          });
        })();
        """;

    private readonly StringBuilder body = new();
    private bool interactive;

    /// <summary>Text made safe for HTML content and attribute values.</summary>
    public static string Escape(string text) => WebUtility.HtmlEncode(text);

    /// <summary>
    /// The URL of <paramref name="path"/> relative to the folder <paramref name="from"/>, each segment percent-encoded, with
    /// forward slashes: how the page refers to the files beside it.
    /// </summary>
    public static string RelativeUrl(string from, string path) =>
        string.Join("/", Path.GetRelativePath(from, path).Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar).Select(Uri.EscapeDataString));

    /// <summary>An image element.</summary>
    public static string Image(string url, string alt, string cssClass = "map") =>
        $"<img class=\"{cssClass}\" src=\"{Escape(url)}\" alt=\"{Escape(alt)}\" title=\"{Escape(alt)}\">";

    /// <summary>Adds a heading.</summary>
    public HtmlPage Heading(string text, int level = 2)
    {
        body.Append("<h").Append(level).Append('>').Append(Escape(text)).Append("</h").Append(level).AppendLine(">");
        return this;
    }

    /// <summary>Adds a paragraph of text.</summary>
    public HtmlPage Paragraph(string text, string? cssClass = null)
    {
        body.Append(cssClass is null ? "<p>" : $"<p class=\"{cssClass}\">").Append(Escape(text)).AppendLine("</p>");
        return this;
    }

    /// <summary>Adds lines as preformatted text.</summary>
    public HtmlPage Preformatted(IEnumerable<string> lines)
    {
        body.Append("<pre>").Append(Escape(string.Join("\n", lines))).AppendLine("</pre>");
        return this;
    }

    /// <summary>Adds an image with a caption.</summary>
    public HtmlPage Figure(string url, string caption)
    {
        body.Append("<figure>").Append(Image(url, caption, "plot")).Append("<figcaption>").Append(Escape(caption)).AppendLine("</figcaption></figure>");
        return this;
    }

    /// <summary>Adds a table, with its filter box when it has one.</summary>
    public HtmlPage Table(HtmlTable table)
    {
        interactive = true;
        if (table.Filter is not null)
        {
            body.Append($"<div><input class=\"filter\" type=\"search\" data-table=\"{table.Id}\" data-count=\"{table.Id}-count\" placeholder=\"{Escape(table.Filter)}\" aria-label=\"{Escape(table.Filter)}\">")
                .AppendLine($"<span class=\"count\" id=\"{table.Id}-count\"></span></div>");
        }
        body.Append($"<table class=\"sortable\" id=\"{table.Id}\"><thead><tr>");
        // The columns before the groups come first in the first heading row, so their places there are their indices.
        int leading = table.Columns.Count - table.Groups.Sum(g => g.Span);
        string span = table.Groups.Count > 0 ? " rowspan=\"2\"" : "";
        for (int c = 0; c < table.Columns.Count; c++)
        {
            HtmlColumn column = table.Columns[c];
            if (c == leading && table.Groups.Count > 0)
            {
                foreach (var (heading, columns) in table.Groups)
                {
                    body.Append($"<th colspan=\"{columns}\">").Append(Escape(heading)).Append("</th>");
                }
                body.Append("</tr><tr>");
            }
            body.Append(c < leading ? $"<th{span}" : "<th").Append(column.Sort is null || c >= leading ? ">" : $" data-sort=\"{column.Sort}\">")
                .Append(Escape(column.Heading)).Append("</th>");
        }
        body.AppendLine("</tr></thead><tbody>");
        foreach (IReadOnlyList<HtmlCell> row in table.Rows)
        {
            body.Append("<tr>");
            for (int c = 0; c < row.Count; c++)
            {
                HtmlCell cell = row[c];
                string number = table.Columns[c].Sort == "number" ? " class=\"number\"" : "";
                body.Append("<td").Append(number).Append(cell.SortKey is null ? "" : $" data-key=\"{Escape(cell.SortKey)}\"").Append('>')
                    .Append(cell.Html).Append("</td>");
            }
            body.AppendLine("</tr>");
        }
        body.AppendLine("</tbody></table>");
        return this;
    }

    /// <summary>The page.</summary>
    public string Render()
    {
        var page = new StringBuilder();
        page.AppendLine("<!DOCTYPE html>");
        page.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        page.AppendLine("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        page.Append("<title>").Append(Escape(title)).AppendLine("</title>");
        page.Append("<style>").Append(Style).AppendLine("</style></head><body>");
        page.Append("<h1>").Append(Escape(title)).AppendLine("</h1>");
        page.Append(body);
        if (interactive)
        {
            page.Append("<script>").Append(Script).AppendLine("</script>");
        }
        page.AppendLine("</body></html>");
        return page.ToString();
    }

    /// <summary>Writes the page to <paramref name="path"/> atomically and returns the path.</summary>
    public string Write(string path)
    {
        RelevanceSharp.IO.AtomicFile.WriteAll([(path, Encoding.UTF8.GetBytes(Render()))]);
        return path;
    }
}
