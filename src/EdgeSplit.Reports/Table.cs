using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EdgeSplit.Reports;

/// <summary>A named column of a machine-readable table; the same list drives the JSON keys and the CSV header.</summary>
internal sealed record Column<T>(string Name, Func<T, object?> Value);

/// <summary>Writes rows as a JSON list of flat objects and as CSV with the same columns.</summary>
internal static class Table
{
    private static readonly JsonWriterOptions JsonOptions = new() { Indented = true };

    public static void WriteJson<T>(
        string path, IReadOnlyList<Column<T>> columns, IEnumerable<T> rows, Action<Utf8JsonWriter, T>? extra = null)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, JsonOptions);
        json.WriteStartArray();
        foreach (var row in rows)
        {
            json.WriteStartObject();
            foreach (var column in columns)
            {
                json.WritePropertyName(column.Name);
                WriteValue(json, column.Value(row));
            }
            extra?.Invoke(json, row);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    public static void WriteCsv<T>(string path, IReadOnlyList<Column<T>> columns, IEnumerable<T> rows)
    {
        var csv = new StringBuilder();
        csv.AppendJoin(',', columns.Select(c => Escape(c.Name))).Append('\n');
        foreach (var row in rows)
        {
            csv.AppendJoin(',', columns.Select(c => Escape(Format(c.Value(row))))).Append('\n');
        }
        File.WriteAllText(path, csv.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }

    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case int i:
                json.WriteNumberValue(i);
                break;
            case long l:
                json.WriteNumberValue(l);
                break;
            case double d when double.IsFinite(d):
                json.WriteNumberValue(d);
                break;
            case double:
                // JSON has no NaN or infinity; null says "no figure" honestly.
                json.WriteNullValue();
                break;
            default:
                json.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        bool b => b ? "true" : "false",
        double d when !double.IsFinite(d) => "",
        double d => Fmt.Raw(d),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    private static string Escape(string field) =>
        field.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
}
