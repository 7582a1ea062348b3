using System.Text;
using ScottPlot;

namespace EdgeSplit.Reports;

public static partial class ReportWriter
{
    public const string SweepJson = "sweep.json";
    public const string SweepCsv = "sweep.csv";
    public const string SweepPng = "latency_vs_throughput.png";

    /// <summary>
    /// Writes sweep.json, sweep.csv (every cut, with a pareto flag), report.md (the Pareto front first, then
    /// every cut) and latency_vs_throughput.png into <paramref name="outDir"/>.
    /// </summary>
    public static ReportFiles Write(SweepReport report, string outDir)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Points.Count == 0)
        {
            throw new ArgumentException("a sweep report needs at least one point", nameof(report));
        }
        // One front per runtime: a runtime's cut is on the front when none of that runtime's own cuts beats it.
        var fronts = Pareto.FrontsByRuntime(report.Points);
        var front = fronts.SelectMany(f => f.Front).ToList();
        var onFront = front.ToHashSet();
        var rows = report.Points.Select((p, i) => new SweepRow(p, onFront.Contains(i))).ToList();
        IReadOnlyList<Column<SweepRow>> columns =
        [
            new("model", _ => report.Model),
            new("runtime", r => r.Point.Runtime),
            new("cut", r => r.Point.Cut),
            new("sequential_latency_ms", r => r.Point.SequentialLatencyMs),
            new("pipelined_throughput_per_s", r => r.Point.PipelinedThroughputPerS),
            new("pareto", r => r.OnFront),
            new("emulated", _ => report.Emulated),
        ];
        var files = AtomicDirectory.Write(outDir, dir =>
        {
            Table.WriteJson(Path.Combine(dir, SweepJson), columns, rows);
            Table.WriteCsv(Path.Combine(dir, SweepCsv), columns, rows);
            SweepPlot(report, fronts, Path.Combine(dir, SweepPng));
            File.WriteAllText(Path.Combine(dir, ReportMd), SweepMarkdown(report, fronts), Utf8);
        });
        return new ReportFiles(Path.GetFullPath(outDir), files);
    }

    private sealed record SweepRow(SweepPoint Point, bool OnFront);

    private static void SweepPlot(SweepReport report, IReadOnlyList<(string Runtime, IReadOnlyList<int> Front)> fronts, string path)
    {
        var emulated = Charts.Labels(report.Emulated, estimated: false);
        var joint = fronts.Count > 1;
        var plot = Charts.New(
            $"{report.Model}: where to split, latency vs throughput{(joint ? ", " + string.Join(" and ", fronts.Select(f => f.Runtime)) : "")}{emulated}",
            "sequential latency per request (ms)",
            "pipelined throughput (inferences/s)");
        var series = new List<IPlottable>();
        var label = 0;
        foreach (var ((runtime, front), r) in fronts.Select((f, r) => (f, r)))
        {
            var points = report.Points.Where(p => p.Runtime == runtime).ToList();
            var all = plot.Add.Markers(
                points.Select(p => p.SequentialLatencyMs).ToArray(),
                points.Select(p => p.PipelinedThroughputPerS).ToArray(),
                r == 0 ? MarkerShape.FilledCircle : MarkerShape.FilledSquare, 9, Charts.Series(2 * r));
            all.LegendText = joint ? $"{runtime}: candidate cut ({points.Count})" : $"candidate cut ({points.Count})";
            var frontPoints = front.Select(i => report.Points[i]).ToList();
            var line = plot.Add.Scatter(
                frontPoints.Select(p => p.SequentialLatencyMs).ToArray(),
                frontPoints.Select(p => p.PipelinedThroughputPerS).ToArray(),
                Charts.Series((2 * r) + 3));
            line.LineWidth = 2;
            line.MarkerSize = 12;
            line.MarkerShape = MarkerShape.OpenCircle;
            line.MarkerLineWidth = 2.5f;
            line.LegendText = joint ? $"{runtime}: Pareto front ({front.Count})" : $"Pareto front ({front.Count})";
            // Short labels P1..Pn on the front only; report.md names the cut behind each.
            foreach (var p in frontPoints)
            {
                var text = plot.Add.Text($"P{++label}", p.SequentialLatencyMs, p.PipelinedThroughputPerS);
                text.LabelFontSize = 13;
                text.LabelBold = true;
                text.LabelFontColor = Colors.Black;
                text.OffsetX = 8;
                text.OffsetY = -8;
                text.LabelFontName = Charts.FontFamily;
                text.LabelBackgroundColor = Colors.White.WithAlpha(0.8);
            }
            series.Add(all);
            series.Add(line);
        }
        // Labels behind the points, so a neighbour's label never hides a cut.
        foreach (var s in series)
        {
            plot.MoveToFront(s);
        }
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Margins(0.12, 0.15);
        Charts.Save(plot, path);
    }

    private static string SweepMarkdown(SweepReport report, IReadOnlyList<(string Runtime, IReadOnlyList<int> Front)> fronts)
    {
        var md = new StringBuilder();
        var joint = fronts.Count > 1;
        var front = fronts.SelectMany(f => f.Front).ToList();
        md.Append("# ").Append(report.Title).Append("\n\n");
        md.Append("## Pareto front\n\n");
        if (joint)
        {
            md.Append("Each runtime's own Pareto front (no other cut of that runtime has both lower sequential latency and higher pipelined throughput): ")
                .Append(string.Join("; ", fronts.Select(f => $"{f.Runtime} {f.Front.Count} of {report.Points.Count(p => p.Runtime == f.Runtime)} cuts"))).Append('.');
        }
        else
        {
            md.Append(front.Count).Append(" of ").Append(report.Points.Count)
                .Append(" candidate cuts of ").Append(report.Model)
                .Append(" are on the Pareto front: no other cut has both lower sequential latency and higher pipelined throughput.");
        }
        if (report.Emulated)
        {
            md.Append(" Devices are **emulated** on one host.");
        }
        md.Append("\n\n");
        md.Append(joint ? "| | runtime | cut | sequential latency ms | pipelined throughput /s |\n|---|---|---|---:|---:|\n" : "| | cut | sequential latency ms | pipelined throughput /s |\n|---|---|---:|---:|\n");
        foreach (var (i, k) in front.Select((i, k) => (i, k)))
        {
            var p = report.Points[i];
            md.Append("| P").Append(k + 1).Append(" | ").Append(joint ? Fmt.Cell(p.Runtime) + " | " : "").Append(Fmt.Cell(p.Cut)).Append(" | ").Append(Fmt.Num(p.SequentialLatencyMs))
                .Append(" | ").Append(Fmt.Num(p.PipelinedThroughputPerS)).Append(" |\n");
        }
        md.Append('\n');
        if (!string.IsNullOrWhiteSpace(report.ClosingNote))
        {
            md.Append("> ").Append(report.ClosingNote.ReplaceLineEndings("\n> ")).Append("\n\n");
        }
        md.Append("## Setup\n\n- Model: ").Append(report.Model)
            .Append("\n- Testbed: ").Append(report.Testbed).Append(report.Emulated ? " (**emulated** devices)" : "")
            .Append("\n- Host: ").Append(report.Host).Append("\n\n");
        md.Append("## Plot\n\n![").Append(report.Model).Append(": latency vs throughput per cut, Pareto front marked")
            .Append(report.Emulated ? " (emulated devices)" : "").Append("](").Append(SweepPng).Append(")\n\n");
        md.Append("## Every cut\n\n");
        var onFront = front.ToHashSet();
        AppendSweepTable(md, report.Points.Select((p, i) => (i, p)), onFront, joint);
        md.Append("Machine-readable: [sweep.json](sweep.json), [sweep.csv](sweep.csv).\n");
        return md.ToString();
    }

    private static void AppendSweepTable(StringBuilder md, IEnumerable<(int Index, SweepPoint Point)> rows, HashSet<int> onFront, bool withRuntime)
    {
        md.Append(withRuntime ? "| runtime | cut | sequential latency ms | pipelined throughput /s | Pareto |\n|---|---|---:|---:|---|\n" : "| cut | sequential latency ms | pipelined throughput /s | Pareto |\n|---|---:|---:|---|\n");
        foreach (var (index, p) in rows)
        {
            md.Append("| ").Append(withRuntime ? Fmt.Cell(p.Runtime) + " | " : "").Append(Fmt.Cell(p.Cut)).Append(" | ").Append(Fmt.Num(p.SequentialLatencyMs))
                .Append(" | ").Append(Fmt.Num(p.PipelinedThroughputPerS)).Append(" |")
                .Append(onFront.Contains(index) ? " yes |" : " |").Append('\n');
        }
        md.Append('\n');
    }
}
