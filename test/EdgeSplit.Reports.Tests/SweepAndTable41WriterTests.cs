using System.Text.Json;

namespace EdgeSplit.Reports.Tests;

public sealed class SweepAndTable41WriterTests
{
    private static void AssertDrawnPng(string path, params int[] series)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal((Charts.WidthPx, Charts.HeightPx), Png.HeaderSize(bytes));
        var (stdDev, distinctColors) = Png.Content(bytes);
        Assert.True(stdDev > 10 && distinctColors > 50, $"{path} looks blank");
        foreach (var s in series)
        {
            var c = Charts.Series(s);
            Assert.True(Png.CountNear(bytes, (c.R, c.G, c.B), tolerance: 12) > 20, $"{Path.GetFileName(path)} shows no series {s}");
        }
    }

    [Fact]
    public void Sweep_report_marks_the_pareto_front_in_json_csv_markdown_and_plot_with_synthetic_results()
    {
        using var temp = new TempDirectory();
        var sweep = Synthetic.Sweep(seed: 3);
        var files = ReportWriter.Write(sweep, Path.Combine(temp.Path, "sweep"));
        var front = Pareto.Front(sweep.Points).ToHashSet();

        Assert.Equal(["latency_vs_throughput.png", "report.md", "sweep.csv", "sweep.json"], files.Files);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(files.Directory, "sweep.json")));
        var records = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(sweep.Points.Count, records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            Assert.Equal(sweep.Points[i].Cut, records[i].GetProperty("cut").GetString());
            Assert.Equal(sweep.Points[i].SequentialLatencyMs, records[i].GetProperty("sequential_latency_ms").GetDouble());
            Assert.Equal(sweep.Points[i].PipelinedThroughputPerS, records[i].GetProperty("pipelined_throughput_per_s").GetDouble());
            Assert.Equal(front.Contains(i), records[i].GetProperty("pareto").GetBoolean());
        }
        var csv = File.ReadAllLines(Path.Combine(files.Directory, "sweep.csv"));
        Assert.Equal("model,runtime,cut,sequential_latency_ms,pipelined_throughput_per_s,pareto,emulated", csv[0]);
        Assert.Equal(front.Count, csv.Skip(1).Count(l => l.Contains(",true,", StringComparison.Ordinal)));

        var markdown = File.ReadAllLines(files.ReportMarkdown).Where(l => l.Length > 0).ToList();
        Assert.Equal("## Pareto front", markdown[1]);
        Assert.Contains("](latency_vs_throughput.png)", string.Join('\n', markdown));
        Assert.Equal(front.Count, markdown.Count(l => l.EndsWith(" yes |", StringComparison.Ordinal)));
        AssertDrawnPng(Path.Combine(files.Directory, "latency_vs_throughput.png"), 0, 3); // every cut, and the front
    }

    [Fact]
    public void A_sweep_of_two_runtimes_marks_each_runtimes_own_front_and_plots_both_with_synthetic_results()
    {
        using var temp = new TempDirectory();
        var edgesplit = Synthetic.Sweep(seed: 3, cuts: 12);
        // PyTorch's points all slower than EdgeSplit's: a joint front would hold none of them, its own front does.
        var pytorch = Synthetic.Sweep(seed: 5, cuts: 8).Points.Select(p => new SweepPoint(p.Cut, p.SequentialLatencyMs + 100, p.PipelinedThroughputPerS / 4) { Runtime = SweepRuntimes.PyTorchRpc });
        var sweep = edgesplit with { Points = [.. edgesplit.Points, .. pytorch] };
        var files = ReportWriter.Write(sweep, Path.Combine(temp.Path, "joint"));

        var fronts = Pareto.FrontsByRuntime(sweep.Points);
        Assert.Equal([SweepRuntimes.EdgeSplit, SweepRuntimes.PyTorchRpc], fronts.Select(f => f.Runtime));
        Assert.Equal(Pareto.Front(edgesplit.Points), fronts[0].Front);
        Assert.All(fronts[1].Front, i => Assert.Equal(SweepRuntimes.PyTorchRpc, sweep.Points[i].Runtime));
        Assert.NotEmpty(fronts[1].Front);
        var csv = File.ReadAllLines(Path.Combine(files.Directory, "sweep.csv")).Skip(1).ToList();
        Assert.Equal(8, csv.Count(l => l.Contains(",pytorch-rpc,", StringComparison.Ordinal)));
        Assert.Equal(fronts[1].Front.Count, csv.Count(l => l.Contains(",pytorch-rpc,", StringComparison.Ordinal) && l.Contains(",true,", StringComparison.Ordinal)));
        var markdown = File.ReadAllText(files.ReportMarkdown);
        Assert.Contains("| | runtime | cut | sequential latency ms | pipelined throughput /s |", markdown);
        Assert.Contains($"pytorch-rpc {fronts[1].Front.Count} of 8 cuts", markdown);
        AssertDrawnPng(Path.Combine(files.Directory, "latency_vs_throughput.png"), 0, 3, 2, 5); // each runtime's cuts and front
    }

    [Fact]
    public void Table41_report_has_a_row_and_bars_per_model_with_synthetic_results()
    {
        using var temp = new TempDirectory();
        var table = Synthetic.Table41();
        var files = ReportWriter.Write(table, Path.Combine(temp.Path, "t41"));

        Assert.Equal(["report.md", "table41.csv", "table41.json", "table41_latency.png", "table41_memory.png"], files.Files);
        var csv = File.ReadAllLines(Path.Combine(files.Directory, "table41.csv"));
        Assert.Equal("model,parameters,model_size_mb,peak_memory_mb,latency_ms_rpi4,latency_ms_jetson-nano,latency_ms_laptop,emulated", csv[0]);
        Assert.Equal(table.Rows.Count, csv.Length - 1);
        var markdown = File.ReadAllText(files.ReportMarkdown);
        Assert.StartsWith("# ", markdown);
        Assert.Contains("| model | parameters | model size MB | latency ms rpi4 (emulated) |", markdown);
        foreach (var row in table.Rows)
        {
            Assert.Contains($"| {row.Model} | {row.Parameters:N0} |", markdown);
        }
        AssertDrawnPng(Path.Combine(files.Directory, "table41_latency.png"), 0, 1, 2);
        AssertDrawnPng(Path.Combine(files.Directory, "table41_memory.png"), 0, 1);
    }
}
