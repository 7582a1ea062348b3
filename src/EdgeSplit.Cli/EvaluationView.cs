using System.Globalization;
using System.Text;
using EdgeSplit.Evaluation;
using EdgeSplit.Graph;
using EdgeSplit.Reports;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace EdgeSplit.Cli;

/// <summary>What bench and demo show on the console: the live view of a run, the results and the verdict.</summary>
internal static class EvaluationView
{
    private static readonly string[] DeviceColours = ["dodgerblue1", "orange1", "green3", "magenta1", "yellow1", "red1", "aqua", "purple"];

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Finds a file shipped in the repository's examples folder, looking up from here and from the executable.</summary>
    public static string Example(string relative)
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "examples", relative);
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new BadInputException($"examples/{relative} was not found above {Environment.CurrentDirectory}; run from a clone of the repository or pass the file explicitly");
    }

    /// <summary>Which testbed bench and demo will run on here, before they start (the runner may still fall back).</summary>
    public static string ExpectedBackend(bool forceInProcess) =>
        EdgeSplit.Testbed.Backends.TestbedBackends.WhyNotNamespaces(forceInProcess) is { } why
            ? $"in-process emulation ({why})"
            : "namespace testbed (agent processes in network namespaces and cgroups, links shaped by tc)";

    /// <summary>The live view of one moment: devices, the plan as a coloured bar over the layers, rolling latency.</summary>
    public static IRenderable Render(LiveFrame? frame, IReadOnlyList<string> deviceOrder)
    {
        if (frame is null) return new Markup("[grey]starting...[/]");
        var header = new Markup(
            $"[bold]{Markup.Escape(frame.Model)}[/] / [bold]{frame.Strategy.Name()}[/] (run {frame.RunIndex + 1} of {frame.RunCount}) " +
            $"{frame.ElapsedS.ToString("0.0", Inv)} / {frame.DurationS.ToString("0", Inv)} s  [grey]{Markup.Escape(frame.Phase)}; emulated devices, estimated figures[/]");
        var devices = new Table().Border(TableBorder.Rounded).AddColumns("device", "state", "CPU (emulated)", "plan memory", "link to source");
        foreach (var d in frame.Devices)
        {
            var colour = Colour(deviceOrder, d.Name);
            devices.AddRow(
                $"[{colour}]{Markup.Escape(d.Name)}[/]",
                d.Alive ? "[green]up[/]" : "[red]down[/]",
                $"{Bar(d.CpuPercent / 100, 20)} {d.CpuPercent.ToString("0", Inv),3}%",
                $"{d.MemoryMb.ToString("0.0", Inv)} MB",
                double.IsFinite(d.LinkFromSourceMbps) ? $"{d.LinkFromSourceMbps.ToString("0.##", Inv)} Mbit/s" : "[grey]source[/]");
        }
        var plan = new StringBuilder();
        const int width = 60;
        if (frame.Plan.Count > 0 && frame.NodeCount > 0)
        {
            for (var i = 0; i < width; i++)
            {
                var node = i * frame.NodeCount / width;
                var stage = frame.Plan.FirstOrDefault(s => node >= s.FirstNode && node <= s.LastNode);
                plan.Append(stage is null ? "[grey]·[/]" : $"[{Colour(deviceOrder, stage.Device)}]█[/]");
            }
        }
        var planLine = new Markup($"plan  {plan}  " + string.Join("  ", frame.Plan.Select(s => $"[{Colour(deviceOrder, s.Device)}]{Markup.Escape(s.Device)}[/] {s.FirstNode}..{s.LastNode}")));
        var latency = new Markup(
            $"rolling p50 [bold]{(double.IsFinite(frame.RollingP50Ms) ? frame.RollingP50Ms.ToString("0.0", Inv) + " ms" : "n/a")}[/]   " +
            $"served {frame.Completed}   failed {(frame.Failed > 0 ? $"[red]{frame.Failed}[/]" : "0")}   re-partitions {frame.Repartitions}");
        return new Rows(header, devices, planLine, latency);
    }

    /// <summary>One plain line per moment for logs and pipes (no TTY).</summary>
    public static string Line(LiveFrame frame) =>
        $"{frame.Model}/{frame.Strategy.Name()} {frame.ElapsedS.ToString("0.0", Inv)}s " +
        string.Join(" ", frame.Devices.Select(d => $"{d.Name}:{(d.Alive ? d.CpuPercent.ToString("0", Inv) + "%" : "down")}")) +
        $" plan {string.Join(",", frame.Plan.Select(s => $"{s.Device}[{s.FirstNode}..{s.LastNode}]"))}" +
        $" p50 {(double.IsFinite(frame.RollingP50Ms) ? frame.RollingP50Ms.ToString("0.0", Inv) : "n/a")} ms served {frame.Completed} failed {frame.Failed}";

    /// <summary>Per-strategy figures and the verdict of each model, as tables.</summary>
    public static void WriteSummary(IAnsiConsole console, BenchReport report)
    {
        var results = new Table().Border(TableBorder.Rounded)
            .AddColumns("model", "strategy", "p50 ms", "p95 ms", "p99 ms", "per s", "J/inf (est.)", "misses %", "dropped", "late", "failed", "switches", "switch ms");
        foreach (var r in report.Results)
        {
            results.AddRow(Markup.Escape(r.Model), r.Strategy.Name(), Num(r.P50Ms), Num(r.P95Ms), Num(r.P99Ms), Num(r.ThroughputPerS), r.EnergyPerInferenceJ.ToString("0.000", Inv),
                r.Frames is { } f ? Num(f.MissPercent) : "n/a", r.Frames?.Dropped.ToString(Inv) ?? "n/a", r.Frames?.Late.ToString(Inv) ?? "n/a",
                r.Failed > 0 ? $"[red]{r.Failed}[/]" : "0", r.Repartitions.ToString(Inv), Num(r.SwitchMs));
        }
        if (report.Results.FirstOrDefault(r => r.Frames is not null)?.Frames is { } camera)
        {
            results.Caption($"camera: {Num(camera.Fps)} fps open loop, each frame due {Num(camera.DeadlineMs)} ms after capture, at most {camera.MaxInFlight} in flight; " +
                "latency from capture; per s = achieved fps; misses = dropped + late + failed frames");
        }
        console.Write(results);
        foreach (var verdict in Verdict.Evaluate(report.Results, report.Criteria))
        {
            var table = new Table().Border(TableBorder.Rounded)
                .Title($"verdict for {Markup.Escape(verdict.Model)}: best adaptive = {verdict.BestAdaptive?.Strategy.Name() ?? "none"} (emulated devices, estimated energy)")
                .AddColumns("criterion", "outcome", "detail");
            foreach (var o in verdict.Outcomes)
            {
                var colour = o.Outcome switch { Outcome.Pass => "green", Outcome.FallsShort => "red", _ => "yellow" };
                table.AddRow(Markup.Escape(o.Criterion), $"[{colour}]{o.OutcomeText}[/]", Markup.Escape(o.Detail));
            }
            console.Write(table);
            var ofModel = report.Results.Where(r => r.Model == verdict.Model).ToList();
            if (RlLearning.Of(ofModel.FirstOrDefault(r => r.Strategy == Strategy.Rl), ofModel.FirstOrDefault(r => r.Strategy == Strategy.Oracle), report.Events) is { } learning)
            {
                console.MarkupLine(Markup.Escape($"{verdict.Model}: {learning.Describe()} (definitions in the report)."));
            }
        }
    }

    private static string Num(double value) => double.IsFinite(value) ? value.ToString(value >= 100 ? "0" : "0.0", Inv) : "n/a";

    private static string Bar(double fraction, int width)
    {
        var filled = (int)Math.Round(Math.Clamp(double.IsFinite(fraction) ? fraction : 0, 0, 1) * width);
        return $"[green]{new string('█', filled)}[/][grey]{new string('░', width - filled)}[/]";
    }

    private static string Colour(IReadOnlyList<string> order, string device)
    {
        var i = Math.Max(0, order.ToList().IndexOf(device));
        return DeviceColours[i % DeviceColours.Length];
    }
}
