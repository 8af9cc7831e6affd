using System.Globalization;
using System.Text;

namespace RelevanceSharp.Evaluation;

/// <summary>Plain-text tables and CSV rows as the evaluation reports write them.</summary>
internal static class TextTables
{
    /// <summary>
    /// Aligns rows into columns two spaces apart, the first left-aligned and the others right-aligned, with a rule
    /// of dashes under the first row (the header).
    /// </summary>
    public static string Format(IReadOnlyList<string[]> rows)
    {
        int columns = rows[0].Length;
        int[] widths = Enumerable.Range(0, columns).Select(col => rows.Max(r => r[col].Length)).ToArray();
        var text = new StringBuilder();
        for (int r = 0; r < rows.Count; r++)
        {
            text.AppendLine(string.Join("  ", rows[r].Select((cell, col) => col == 0 ? cell.PadRight(widths[col]) : cell.PadLeft(widths[col]))).TrimEnd());
            if (r == 0)
            {
                text.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
            }
        }
        return text.ToString();
    }

    /// <summary>A number with three decimals, or <c>n/a</c> for NaN.</summary>
    public static string Number(double value) =>
        double.IsNaN(value) ? "n/a" : value.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>A p-value: four decimals down to 0.001, below that in scientific notation with three digits.</summary>
    public static string PValue(double p) =>
        p >= 0.001 || p == 0
            ? p.ToString("0.0000", CultureInfo.InvariantCulture)
            : p.ToString("0.00e+00", CultureInfo.InvariantCulture);

    /// <summary>Appends one CSV row; cells holding commas, quotes or line breaks are quoted.</summary>
    public static void CsvRow(StringBuilder csv, params object?[] cells)
    {
        csv.AppendJoin(',', cells.Select(CsvCell)).Append('\n');
    }

    private static string CsvCell(object? value)
    {
        string text = value switch
        {
            null => "",
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        return text.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
    }
}
