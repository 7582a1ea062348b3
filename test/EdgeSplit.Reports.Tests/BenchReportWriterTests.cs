using System.Text.Json;

namespace EdgeSplit.Reports.Tests;

/// <summary>One synthetic two-model run written once and shared by the tests that only read it.</summary>
public sealed class WrittenSyntheticBench : IDisposable
{
    private readonly TempDirectory _temp = new();

    public BenchReport Report { get; } = Synthetic.Run(seed: 7, durationS: 30, requestsPerS: 10, "mobilenetv2", "resnet18");

    public ReportFiles Files { get; }

    public WrittenSyntheticBench() => Files = ReportWriter.Write(Report, Path.Combine(_temp.Path, "out"));

    public string PathOf(string file) => Path.Combine(Files.Directory, file);

    public void Dispose() => _temp.Dispose();
}

public sealed class BenchReportWriterTests(WrittenSyntheticBench written) : IClassFixture<WrittenSyntheticBench>
{
    private static readonly string[] RequiredKeys =
    [
        "model", "strategy", "p50_ms", "p95_ms", "p99_ms", "throughput_per_s",
        "energy_per_inference_j", "energy_estimated", "failed", "repartitions",
    ];

    [Fact]
    public void Writer_puts_every_key_of_every_model_and_strategy_in_results_json_with_synthetic_results()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(written.PathOf("results.json")));
        var records = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(written.Report.Results.Count, records.Count);
        foreach (var (record, expected) in records.Zip(written.Report.Results))
        {
            foreach (var key in RequiredKeys.Concat(["decision_ms", "switch_ms", "requests", "devices"]))
            {
                Assert.True(record.TryGetProperty(key, out _), $"results.json record lacks '{key}'");
            }
            Assert.Equal(expected.Model, record.GetProperty("model").GetString());
            Assert.Equal(expected.Strategy.Name(), record.GetProperty("strategy").GetString());
            Assert.Equal(expected.P50Ms, record.GetProperty("p50_ms").GetDouble());
            Assert.Equal(expected.P99Ms, record.GetProperty("p99_ms").GetDouble());
            Assert.Equal(expected.EnergyPerInferenceJ, record.GetProperty("energy_per_inference_j").GetDouble());
            Assert.Equal(expected.EnergyEstimated, record.GetProperty("energy_estimated").GetBoolean());
            Assert.Equal(expected.Failed, record.GetProperty("failed").GetInt32());
            Assert.Equal(expected.Repartitions, record.GetProperty("repartitions").GetInt32());
            Assert.Equal(expected.Devices.Count, record.GetProperty("devices").GetArrayLength());
        }
        Assert.Equal(
            written.Report.Results.Select(r => (r.Model, r.Strategy.Name())).Order(),
            records.Select(r => (r.GetProperty("model").GetString()!, r.GetProperty("strategy").GetString()!)).Order());
    }

    [Fact]
    public void Writer_puts_the_same_columns_in_results_csv_with_synthetic_results()
    {
        var lines = File.ReadAllLines(written.PathOf("results.csv"));
        var header = lines[0].Split(',');
        foreach (var key in RequiredKeys)
        {
            Assert.Contains(key, header);
        }
        Assert.Contains("cpu_percent_jetson-nano", header);
        Assert.Contains("memory_mb_laptop", header);
        Assert.Equal(written.Report.Results.Count, lines.Length - 1);
        foreach (var (line, expected) in lines.Skip(1).Zip(written.Report.Results))
        {
            var cells = line.Split(',');
            Assert.Equal(header.Length, cells.Length);
            string Cell(string key) => cells[Array.IndexOf(header, key)];
            Assert.Equal(expected.Model, Cell("model"));
            Assert.Equal(expected.Strategy.Name(), Cell("strategy"));
            Assert.Equal(expected.P95Ms, double.Parse(Cell("p95_ms"), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(expected.ThroughputPerS, double.Parse(Cell("throughput_per_s"), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(expected.EnergyEstimated ? "true" : "false", Cell("energy_estimated"));
            // single runs on one device only: the others are empty, not zero
            Assert.Equal(expected.Strategy == Strategy.Single, Cell("cpu_percent_laptop").Length == 0);
        }
        var latencyRows = File.ReadAllLines(written.PathOf("latencies.csv")).Length - 1;
        Assert.Equal(written.Report.Results.Sum(r => r.Latencies.Count), latencyRows);
    }

    [Fact]
    public void Report_opens_with_the_verdict_table_with_synthetic_results()
    {
        var lines = File.ReadAllLines(written.Files.ReportMarkdown).Where(l => l.Length > 0).ToList();
        Assert.StartsWith("# ", lines[0]);
        Assert.Equal("## Verdict", lines[1]);
        var firstTable = lines.FindIndex(l => l.StartsWith('|'));
        Assert.StartsWith("| model | best adaptive | p50 vs static | p95 vs static | misses vs static | p50 vs oracle | energy vs static (estimated) | failed |", lines[firstTable]);
        Assert.True(firstTable < lines.IndexOf("## Results"), "the verdict table must come before the full table");
        var text = string.Join('\n', lines);
        foreach (var model in new[] { "mobilenetv2", "resnet18" })
        {
            Assert.Contains($"| {model} | ", lines[firstTable + 2] + lines[firstTable + 3]);
            Assert.Contains($"**{model}** (best adaptive:", text);
        }
        // Seven criteria per model: p50, p95 and misses vs static, p50 vs oracle, energy, failures, rl's p95.
        Assert.Equal(7 * 2, lines.Count(l => l.StartsWith("- ", StringComparison.Ordinal) && (l.Contains("**PASS**") || l.Contains("**FALLS SHORT**") || l.Contains("**NOT MEASURED**"))));
    }

    [Fact]
    public void Report_labels_estimated_energy_and_emulated_devices_with_synthetic_results()
    {
        var text = File.ReadAllText(written.Files.ReportMarkdown);
        Assert.Contains("energy J/inference (estimated)", text);
        Assert.Contains("**emulated**", text);
        Assert.Contains("(emulated devices)", text);
    }

    [Fact]
    public void Every_plot_is_a_drawn_png_embedded_in_the_report_with_synthetic_results()
    {
        var pngs = written.Files.Files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)).ToList();
        Assert.Equal(2 * 5, pngs.Count);
        var markdown = File.ReadAllText(written.Files.ReportMarkdown);
        foreach (var png in pngs)
        {
            Assert.Contains($"]({png})", markdown);
            var bytes = File.ReadAllBytes(written.PathOf(png));
            Assert.Equal((Charts.WidthPx, Charts.HeightPx), Png.HeaderSize(bytes));
            var (stdDev, distinctColors) = Png.Content(bytes);
            Assert.True(stdDev > 10, $"{png} looks blank: luminance std dev {stdDev:0.0}");
            Assert.True(distinctColors > 50, $"{png} has only {distinctColors} colours");
            // Every strategy's colour must be drawn: the data is there, not only axes.
            foreach (var strategy in Enum.GetValues<Strategy>())
            {
                var c = Charts.Of(strategy);
                Assert.True(Png.CountNear(bytes, (c.R, c.G, c.B)) > 20, $"{png} shows no {strategy.Name()} data");
            }
        }
    }

    [Fact]
    public void Report_links_the_live_dashboard_before_the_plots_only_when_one_ran_with_synthetic_results()
    {
        Assert.DoesNotContain("## Live dashboard", File.ReadAllText(written.Files.ReportMarkdown), StringComparison.Ordinal);
        using var temp = new TempDirectory();
        var files = ReportWriter.Write(written.Report with { LiveDashboardUrl = "http://127.0.0.1:5080/" }, Path.Combine(temp.Path, "out"));

        var markdown = File.ReadAllText(files.ReportMarkdown);
        var section = markdown.IndexOf("## Live dashboard", StringComparison.Ordinal);
        Assert.True(section >= 0 && section < markdown.IndexOf("## Plots", StringComparison.Ordinal), "the dashboard's section comes before the plots");
        Assert.Contains("<http://127.0.0.1:5080/>", markdown, StringComparison.Ordinal);
        Assert.Contains("[plots](#plots)", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Writer_leaves_no_temporary_directory_behind_with_synthetic_results()
    {
        var parent = Path.GetDirectoryName(written.Files.Directory)!;
        Assert.Equal(["out"], Directory.GetFileSystemEntries(parent).Select(Path.GetFileName));
    }
}
