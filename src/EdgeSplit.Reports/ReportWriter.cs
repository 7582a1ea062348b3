using System.Text;
using System.Text.Json;

namespace EdgeSplit.Reports;

/// <summary>The directory a report was written to and the file names in it.</summary>
public sealed record ReportFiles(string Directory, IReadOnlyList<string> Files)
{
    public string ReportMarkdown => Path.Combine(Directory, "report.md");
}

/// <summary>
/// Writes bench, sweep and Table 4.1 results as JSON, CSV, a markdown report and PNG plots.
/// Every report is built in a temporary directory and moved into place, never half-written.
/// </summary>
public static partial class ReportWriter
{
    /// <summary>Columns of results.json and results.csv, in order; keys are snake_case.</summary>
    internal static IReadOnlyList<Column<StrategyResult>> ResultColumns { get; } =
    [
        new("model", r => r.Model),
        new("strategy", r => r.Strategy.Name()),
        new("p50_ms", r => r.P50Ms),
        new("p95_ms", r => r.P95Ms),
        new("p99_ms", r => r.P99Ms),
        new("throughput_per_s", r => r.ThroughputPerS),
        new("energy_per_inference_j", r => r.EnergyPerInferenceJ),
        new("energy_estimated", r => r.EnergyEstimated),
        new("failed", r => r.Failed),
        new("repartitions", r => r.Repartitions),
        new("decision_ms", r => r.DecisionMs),
        new("switch_ms", r => r.SwitchMs),
        new("requests", r => r.Requests),
        // The open-loop camera's figures; empty for a closed-loop run.
        new("fps", r => r.Frames?.Fps),
        new("frame_deadline_ms", r => r.Frames?.DeadlineMs),
        new("frames_captured", r => r.Frames?.Captured),
        new("deadline_miss_percent", r => r.Frames?.MissPercent),
        new("frames_dropped", r => r.Frames?.Dropped),
        new("frames_late", r => r.Frames?.Late),
        new("achieved_fps", r => r.Frames?.AchievedFps),
    ];

    public const string ResultsJson = "results.json";
    public const string ResultsCsv = "results.csv";
    public const string LatenciesCsv = "latencies.csv";
    public const string ReportMd = "report.md";

    /// <summary>
    /// Writes results.json, results.csv, latencies.csv (every request), report.md (opening with the verdict)
    /// and the PNG plots of every model into <paramref name="outDir"/>.
    /// </summary>
    public static ReportFiles Write(BenchReport report, string outDir)
    {
        Validate(report);
        var files = AtomicDirectory.Write(outDir, dir =>
        {
            var models = report.Results.Select(r => r.Model).Distinct(StringComparer.Ordinal).ToList();
            var deviceNames = report.Results.SelectMany(r => r.Devices).Select(d => d.Device).Distinct(StringComparer.Ordinal).ToList();

            Table.WriteJson(Path.Combine(dir, ResultsJson), [.. ResultColumns, new("emulated", _ => report.Emulated)], report.Results, WriteDevices);
            Table.WriteCsv(Path.Combine(dir, ResultsCsv), CsvColumns(report, deviceNames), report.Results);
            Table.WriteCsv(
                Path.Combine(dir, LatenciesCsv),
                [
                    new Column<LatencyRow>("model", x => x.Result.Model),
                    new("strategy", x => x.Result.Strategy.Name()),
                    new("t_seconds", x => x.Sample.TSeconds),
                    new("latency_ms", x => x.Sample.LatencyMs),
                ],
                report.Results.SelectMany(r => r.Latencies.Select(s => new LatencyRow(r, s))));

            var slugs = Slugs(models);
            var plots = models.ToDictionary(
                m => m,
                m => BenchPlots.Write(report, m, report.Results.Where(r => r.Model == m).ToList(), slugs[m], dir),
                StringComparer.Ordinal);
            File.WriteAllText(Path.Combine(dir, ReportMd), BenchMarkdown(report, models, deviceNames, plots), Utf8);
        });
        return new ReportFiles(Path.GetFullPath(outDir), files);
    }

    private sealed record LatencyRow(StrategyResult Result, LatencySample Sample);

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private static List<Column<StrategyResult>> CsvColumns(BenchReport report, IReadOnlyList<string> deviceNames)
    {
        var columns = new List<Column<StrategyResult>>(ResultColumns) { new("emulated", _ => report.Emulated) };
        foreach (var device in deviceNames)
        {
            // A device a strategy did not use has no figure: an empty cell, not a zero.
            columns.Add(new($"cpu_percent_{device}", r => r.Devices.FirstOrDefault(d => d.Device == device)?.CpuPercent));
            columns.Add(new($"memory_mb_{device}", r => r.Devices.FirstOrDefault(d => d.Device == device)?.MemoryMb));
        }
        return columns;
    }

    private static void WriteDevices(Utf8JsonWriter json, StrategyResult result)
    {
        json.WriteStartArray("devices");
        foreach (var device in result.Devices)
        {
            json.WriteStartObject();
            json.WriteString("device", device.Device);
            json.WriteNumber("cpu_percent", device.CpuPercent);
            json.WriteNumber("memory_mb", device.MemoryMb);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void Validate(BenchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Results.Count == 0)
        {
            throw new ArgumentException("a bench report needs at least one result", nameof(report));
        }
        var duplicate = report.Results.GroupBy(r => (r.Model, r.Strategy)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException(
                $"two results for model '{duplicate.Key.Model}' and strategy '{duplicate.Key.Strategy.Name()}'; give one per pair", nameof(report));
        }
        foreach (var r in report.Results)
        {
            double[] figures = [r.P50Ms, r.P95Ms, r.P99Ms, r.ThroughputPerS, r.EnergyPerInferenceJ, r.DecisionMs, r.SwitchMs];
            if (figures.Any(f => !double.IsFinite(f) || f < 0))
            {
                throw new ArgumentException($"result {r.Model}/{r.Strategy.Name()} has a negative or non-finite figure", nameof(report));
            }
        }
    }

    /// <summary>File-name-safe, unique, lower-case names for models.</summary>
    internal static Dictionary<string, string> Slugs(IEnumerable<string> names)
    {
        var slugs = new Dictionary<string, string>(StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var slug = new string(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
            slug = slug.Length == 0 ? "model" : slug;
            var unique = slug;
            for (var n = 2; !used.Add(unique); n++)
            {
                unique = $"{slug}-{n}";
            }
            slugs[name] = unique;
        }
        return slugs;
    }
}
