using System.Text;
using ScottPlot;

namespace EdgeSplit.Reports;

public static partial class ReportWriter
{
    public const string Table41Json = "table41.json";
    public const string Table41Csv = "table41.csv";
    public const string Table41LatencyPng = "table41_latency.png";
    public const string Table41MemoryPng = "table41_memory.png";

    /// <summary>
    /// Writes table41.json, table41.csv (one latency column per device), report.md (the table first) and
    /// bar charts of latency per device and of model size and peak memory into <paramref name="outDir"/>.
    /// </summary>
    public static ReportFiles Write(Table41Report report, string outDir)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Rows.Count == 0)
        {
            throw new ArgumentException("a Table 4.1 report needs at least one row", nameof(report));
        }
        var devices = report.Rows.SelectMany(r => r.LatencyByDevice).Select(d => d.Device).Distinct(StringComparer.Ordinal).ToList();
        var columns = new List<Column<Table41Row>>
        {
            new("model", r => r.Model),
            new("parameters", r => r.Parameters),
            new("model_size_mb", r => r.ModelSizeMb),
            new("peak_memory_mb", r => r.PeakMemoryMb),
        };
        foreach (var device in devices)
        {
            columns.Add(new($"latency_ms_{device}", r => r.LatencyByDevice.FirstOrDefault(d => d.Device == device)?.LatencyMs));
        }
        columns.Add(new("emulated", _ => report.Emulated));
        var files = AtomicDirectory.Write(outDir, dir =>
        {
            Table.WriteJson(Path.Combine(dir, Table41Json), columns, report.Rows);
            Table.WriteCsv(Path.Combine(dir, Table41Csv), columns, report.Rows);
            Table41LatencyPlot(report, devices, Path.Combine(dir, Table41LatencyPng));
            Table41MemoryPlot(report, Path.Combine(dir, Table41MemoryPng));
            File.WriteAllText(Path.Combine(dir, ReportMd), Table41Markdown(report, devices), Utf8);
        });
        return new ReportFiles(Path.GetFullPath(outDir), files);
    }

    private static void Table41LatencyPlot(Table41Report report, IReadOnlyList<string> devices, string path)
    {
        var plot = Charts.New(
            $"Table 4.1: whole-model latency per device profile{Charts.Labels(report.Emulated, estimated: false)}",
            "model", "latency per inference (ms)");
        GroupedBars(plot, report.Rows.Select(r => r.Model).ToList(), devices,
            (row, series) => report.Rows[row].LatencyByDevice.FirstOrDefault(d => d.Device == devices[series])?.LatencyMs);
        Charts.Save(plot, path);
    }

    private static void Table41MemoryPlot(Table41Report report, string path)
    {
        var plot = Charts.New(
            $"Table 4.1: model size and peak memory{Charts.Labels(report.Emulated, estimated: false)}", "model", "size or memory (MB)");
        GroupedBars(plot, report.Rows.Select(r => r.Model).ToList(), ["model size (MB)", "peak memory (MB)"],
            (row, series) => series == 0 ? report.Rows[row].ModelSizeMb : report.Rows[row].PeakMemoryMb);
        Charts.Save(plot, path);
    }

    /// <summary>Bars grouped by model, one colour per series, a legend naming the series.</summary>
    private static void GroupedBars(Plot plot, IReadOnlyList<string> groups, IReadOnlyList<string> series, Func<int, int, double?> value)
    {
        var bars = new List<Bar>();
        var groupWidth = series.Count + 1;
        for (var g = 0; g < groups.Count; g++)
        {
            for (var s = 0; s < series.Count; s++)
            {
                if (value(g, s) is not { } v || !double.IsFinite(v))
                {
                    continue; // not measured on this device: no bar rather than a zero bar
                }
                bars.Add(new Bar
                {
                    Position = g * groupWidth + s,
                    Value = v,
                    FillColor = Charts.Series(s),
                    Label = Fmt.Num(v),
                });
            }
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 11;
        barPlot.ValueLabelStyle.FontName = Charts.FontFamily;
        plot.Axes.Bottom.SetTicks(
            groups.Select((_, g) => g * groupWidth + (series.Count - 1) / 2.0).ToArray(), groups.ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.HideGrid();
        plot.Legend.ManualItems.AddRange(series.Select((name, s) => new LegendItem { LabelText = name, FillColor = Charts.Series(s) }));
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.Margins(left: 0.05, right: 0.05, bottom: 0, top: 0.15);
    }

    private static string Table41Markdown(Table41Report report, IReadOnlyList<string> devices)
    {
        var md = new StringBuilder();
        md.Append("# ").Append(report.Title).Append("\n\n");
        md.Append("## Table 4.1\n\n");
        if (report.Emulated)
        {
            md.Append("Latencies are measured on **emulated** device profiles (CPU quotas on one host), not on the boards.\n\n");
        }
        md.Append("| model | parameters | model size MB | ")
            .Append(string.Concat(devices.Select(d => $"latency ms {Fmt.Cell(d)}{(report.Emulated ? " (emulated)" : "")} | ")))
            .Append("peak memory MB |\n");
        md.Append("|---|---:|---:|").Append(string.Concat(devices.Select(_ => "---:|"))).Append("---:|\n");
        foreach (var row in report.Rows)
        {
            md.Append("| ").Append(Fmt.Cell(row.Model))
                .Append(" | ").Append(row.Parameters.ToString("N0", System.Globalization.CultureInfo.InvariantCulture))
                .Append(" | ").Append(Fmt.Num(row.ModelSizeMb)).Append(" |");
            foreach (var device in devices)
            {
                var latency = row.LatencyByDevice.FirstOrDefault(d => d.Device == device);
                md.Append(' ').Append(latency is null ? "n/a" : Fmt.Num(latency.LatencyMs)).Append(" |");
            }
            md.Append(' ').Append(Fmt.Num(row.PeakMemoryMb)).Append(" |\n");
        }
        md.Append('\n');
        if (!string.IsNullOrWhiteSpace(report.ClosingNote))
        {
            md.Append("> ").Append(report.ClosingNote.ReplaceLineEndings("\n> ")).Append("\n\n");
        }
        md.Append("## Setup\n\n- Testbed: ").Append(report.Testbed).Append(report.Emulated ? " (**emulated** devices)" : "")
            .Append("\n- Host: ").Append(report.Host).Append("\n\n");
        md.Append("## Plots\n\n");
        md.Append("![Whole-model latency per device profile").Append(report.Emulated ? " (emulated devices)" : "").Append("](").Append(Table41LatencyPng).Append(")\n\n");
        md.Append("![Model size and peak memory](").Append(Table41MemoryPng).Append(")\n\n");
        md.Append("Machine-readable: [table41.json](table41.json), [table41.csv](table41.csv).\n");
        return md.ToString();
    }
}
