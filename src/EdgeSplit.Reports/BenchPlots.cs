using ScottPlot;

namespace EdgeSplit.Reports;

/// <summary>The PNG plots of a bench report, one set per model.</summary>
internal static class BenchPlots
{
    /// <summary>Writes the plots of one model into <paramref name="dir"/> and returns (caption, file name) pairs.</summary>
    public static IReadOnlyList<(string Caption, string File)> Write(
        BenchReport report, string model, IReadOnlyList<StrategyResult> results, string slug, string dir)
    {
        var written = new List<(string, string)>();
        var emulated = Charts.Labels(report.Emulated, estimated: false);

        var overTime = $"{slug}_latency_over_time.png";
        LatencyOverTime(report, model, results, emulated, Path.Combine(dir, overTime));
        written.Add(($"{model}: latency over time, rolling median of the last {RollingWindow} requests per strategy, scenario events as dashed lines{emulated}", overTime));

        var cdf = $"{slug}_latency_cdf.png";
        LatencyCdf(model, results, emulated, Path.Combine(dir, cdf));
        written.Add(($"{model}: latency CDF per strategy{emulated}", cdf));

        var p50 = $"{slug}_p50_latency.png";
        var p50Plot = Charts.New($"{model}: p50 latency per strategy{emulated}", "strategy", "p50 latency (ms)");
        Charts.AddBars(p50Plot, results.Select(r => Bar(r, r.P50Ms, Fmt.Ms(r.P50Ms))).ToList());
        Charts.Save(p50Plot, Path.Combine(dir, p50));
        written.Add(($"{model}: p50 latency per strategy{emulated}", p50));

        var energyEstimated = Charts.Labels(report.Emulated, results.Any(r => r.EnergyEstimated));
        var energy = $"{slug}_energy.png";
        var energyPlot = Charts.New($"{model}: energy per inference{energyEstimated}", "strategy", "energy per inference (J)");
        Charts.AddBars(energyPlot, results.Select(r => Bar(r, r.EnergyPerInferenceJ, Fmt.J(r.EnergyPerInferenceJ) + (r.EnergyEstimated ? " (est.)" : ""))).ToList());
        Charts.Save(energyPlot, Path.Combine(dir, energy));
        written.Add(($"{model}: energy per inference per strategy{energyEstimated}", energy));

        var throughput = $"{slug}_throughput.png";
        var throughputPlot = Charts.New($"{model}: throughput with pipelining{emulated}", "strategy", "throughput (inferences/s)");
        Charts.AddBars(throughputPlot, results.Select(r => Bar(r, r.ThroughputPerS, Fmt.Num(r.ThroughputPerS) + "/s")).ToList());
        Charts.Save(throughputPlot, Path.Combine(dir, throughput));
        written.Add(($"{model}: throughput per strategy{emulated}", throughput));

        return written;
    }

    private static BarSpec Bar(StrategyResult result, double value, string valueLabel) =>
        new(result.Strategy.Name(), value, Charts.Of(result.Strategy), result.Failed > 0 ? $"{valueLabel}, {result.Failed} failed" : valueLabel);

    private static void LatencyOverTime(BenchReport report, string model, IReadOnlyList<StrategyResult> results, string emulated, string path)
    {
        var plot = Charts.New($"{model}: latency over time in scenario '{report.Scenario}'{emulated}", "time since start (s)", $"latency, rolling median of {RollingWindow} (ms)");
        foreach (var result in results)
        {
            var samples = result.Latencies.Where(s => double.IsFinite(s.TSeconds) && double.IsFinite(s.LatencyMs)).OrderBy(s => s.TSeconds).ToArray();
            if (samples.Length == 0)
            {
                continue; // nothing was served: the table says so, an empty line would not
            }
            var line = plot.Add.ScatterLine(samples.Select(s => s.TSeconds).ToArray(), Rolling(samples.Select(s => s.LatencyMs).ToArray()), Charts.Of(result.Strategy));
            line.LineWidth = 1.5f;
            line.MarkerSize = 0;
            line.LegendText = result.Strategy.Name();
        }
        for (var i = 0; i < report.Events.Count; i++)
        {
            var scenarioEvent = report.Events[i];
            var marker = plot.Add.VerticalLine(scenarioEvent.TSeconds, 1.5f, Colors.Black.WithAlpha(0.6), LinePattern.Dashed);
            marker.Text = $"E{i + 1}";
            marker.LabelFontSize = 12;
            marker.LegendText = $"E{i + 1} at {Fmt.Num(scenarioEvent.TSeconds)} s: {Shorten(scenarioEvent.Description, 40)}";
        }
        plot.ShowLegend(Edge.Right);
        // Latency starts at zero so that heights compare honestly between strategies.
        var maxMs = results.Select(r => Rolling([.. r.Latencies.OrderBy(s => s.TSeconds).Select(s => s.LatencyMs).Where(double.IsFinite)]))
            .SelectMany(x => x).DefaultIfEmpty(1).Max();
        plot.Axes.AutoScaleX();
        plot.Axes.SetLimitsY(0, maxMs * 1.05);
        Charts.Save(plot, path);
    }

    /// <summary>Requests in the rolling window of the latency-over-time plot: one second of a 15 fps camera.</summary>
    internal const int RollingWindow = 15;

    /// <summary>Each point's median over it and the <see cref="RollingWindow"/> - 1 before it (fewer at the start), so a strategy reads as one line.</summary>
    internal static double[] Rolling(IReadOnlyList<double> latencies)
    {
        var rolled = new double[latencies.Count];
        for (var i = 0; i < latencies.Count; i++)
        {
            var from = Math.Max(0, i - RollingWindow + 1);
            rolled[i] = LatencySummary.NearestRank([.. latencies.Skip(from).Take(i - from + 1).Order()], 0.5);
        }
        return rolled;
    }

    private static void LatencyCdf(string model, IReadOnlyList<StrategyResult> results, string emulated, string path)
    {
        var plot = Charts.New($"{model}: latency CDF{emulated}", "request latency (ms)", "fraction of requests at or below");
        foreach (var result in results)
        {
            var sorted = result.Latencies.Select(s => s.LatencyMs).Where(double.IsFinite).Order().ToArray();
            if (sorted.Length == 0)
            {
                continue;
            }
            var fractions = sorted.Select((_, i) => (i + 1) / (double)sorted.Length).ToArray();
            var line = plot.Add.ScatterLine(sorted, fractions, Charts.Of(result.Strategy));
            line.LineWidth = 2f;
            line.MarkerSize = 0;
            line.LegendText = result.Strategy.Name();
        }
        plot.Axes.SetLimitsY(0, 1.02);
        plot.ShowLegend(Alignment.LowerRight);
        Charts.Save(plot, path);
    }

    private static string Shorten(string text, int maxChars) =>
        text.Length <= maxChars ? text : string.Concat(text.AsSpan(0, maxChars - 1), "…");
}
