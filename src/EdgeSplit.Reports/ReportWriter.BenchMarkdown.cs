using System.Text;

namespace EdgeSplit.Reports;

public static partial class ReportWriter
{
    /// <summary>report.md: the verdict first, then the setup, the full table, devices, events and plots.</summary>
    internal static string BenchMarkdown(
        BenchReport report,
        IReadOnlyList<string> models,
        IReadOnlyList<string> deviceNames,
        IReadOnlyDictionary<string, IReadOnlyList<(string Caption, string File)>> plots)
    {
        var md = new StringBuilder();
        var verdicts = Verdict.Evaluate(report.Results, report.Criteria);
        var anyEstimated = report.Results.Any(r => r.EnergyEstimated);
        var energyLabel = anyEstimated ? " (estimated)" : "";
        var c = report.Criteria;

        md.Append("# ").Append(report.Title).Append("\n\n");
        md.Append("## Verdict\n\n");
        md.Append("Best adaptive strategy (lowest ")
            .Append(c.RankBy == RankBy.EnergyPerInference ? "energy per inference" : "p50 latency")
            .Append(" among ").Append(string.Join(", ", Strategies.Adaptive.Select(s => s.Name())))
            .Append(") against static and the oracle. Ratios below 1 mean the adaptive strategy is better.");
        if (report.Emulated)
        {
            md.Append(" Devices are **emulated** on one host.");
        }
        md.Append("\n\n");
        md.Append("| model | best adaptive | p50 vs static | p95 vs static | misses vs static | p50 vs oracle | energy vs static").Append(energyLabel).Append(" | failed |\n");
        md.Append("|---|---|---:|---:|---:|---:|---:|---:|\n");
        foreach (var v in verdicts)
        {
            md.Append("| ").Append(Fmt.Cell(v.Model))
                .Append(" | ").Append(v.BestAdaptive?.Strategy.Name() ?? "none run")
                .Append(" | ").Append(Ratio(v.P50VsStatic))
                .Append(" | ").Append(Ratio(v.P95VsStatic))
                .Append(" | ").Append(Ratio(v.MissesVsStatic))
                .Append(" | ").Append(Ratio(v.P50VsOracle))
                .Append(" | ").Append(Ratio(v.EnergyVsStatic))
                .Append(" | ").Append(v.BestAdaptive is null ? "n/a" : v.BestAdaptive.Failed.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .Append(" |\n");
        }
        md.Append('\n');
        foreach (var v in verdicts)
        {
            md.Append("**").Append(v.Model).Append("** (best adaptive: ").Append(v.BestAdaptive?.Strategy.Name() ?? "none").Append("):\n\n");
            foreach (var o in v.Outcomes)
            {
                md.Append("- ").Append(o.Criterion).Append(": **").Append(o.OutcomeText).Append("** (").Append(o.Detail).Append(")\n");
            }
            md.Append('\n');
        }
        foreach (var model in models)
        {
            var ofModel = report.Results.Where(r => r.Model == model).ToList();
            if (RlLearning.Of(ofModel.FirstOrDefault(r => r.Strategy == Strategy.Rl), ofModel.FirstOrDefault(r => r.Strategy == Strategy.Oracle), report.Events) is { } learning)
            {
                md.Append("**").Append(model).Append("**: ").Append(learning.Describe()).Append(". Regret is, for each frame rl answered, its latency minus ")
                    .Append("the oracle's median latency in the same window between scenario events, averaged over rl's frames; converging is the frames ")
                    .Append("rl needed from a window's start until the median of its last ").Append(RlLearning.RollingFrames).Append(" came within ")
                    .Append(Fmt.X(RlLearning.Tolerance)).Append(" of the oracle's median in that window.\n\n");
            }
        }
        var all = verdicts.SelectMany(v => v.Outcomes).ToList();
        var passed = all.Count(o => o.Outcome == Outcome.Pass);
        md.Append(passed == all.Count
            ? $"All {all.Count} criteria pass.\n\n"
            : $"**{all.Count - passed} of {all.Count} criteria do not pass** (falling short: {all.Count(o => o.Outcome == Outcome.FallsShort)}, not measured: {all.Count(o => o.Outcome == Outcome.NotMeasured)}).\n\n");
        if (!string.IsNullOrWhiteSpace(report.ClosingNote))
        {
            md.Append("> ").Append(report.ClosingNote.ReplaceLineEndings("\n> ")).Append("\n\n");
        }

        md.Append("## Setup\n\n");
        // How the devices were emulated is the runner's to say (in the notes); here only that they were.
        md.Append("- Testbed: ").Append(report.Testbed).Append(report.Emulated ? " (**emulated** devices on one host; how, in the notes below)" : "").Append('\n');
        md.Append("- Scenario: ").Append(report.Scenario).Append('\n');
        md.Append("- Objective: ").Append(report.Objective).Append('\n');
        md.Append("- Host: ").Append(report.Host).Append('\n');
        if (anyEstimated)
        {
            md.Append("- Energy marked *estimated* comes from a power model, not a meter.\n");
        }
        md.Append('\n');

        md.Append("## Results\n\n");
        md.Append("| model | strategy | p50 ms | p95 ms | p99 ms | throughput /s | energy J/inference").Append(energyLabel)
            .Append(" | failed | requests | re-partitions | decision ms | switch ms |\n");
        md.Append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var r in report.Results)
        {
            md.Append("| ").Append(Fmt.Cell(r.Model)).Append(" | ").Append(r.Strategy.Name())
                .Append(" | ").Append(Fmt.Num(r.P50Ms)).Append(" | ").Append(Fmt.Num(r.P95Ms)).Append(" | ").Append(Fmt.Num(r.P99Ms))
                .Append(" | ").Append(Fmt.Num(r.ThroughputPerS))
                .Append(" | ").Append(Fmt.Num(r.EnergyPerInferenceJ)).Append(r.EnergyEstimated ? " (estimated)" : "")
                .Append(" | ").Append(r.Failed).Append(" | ").Append(r.Requests).Append(" | ").Append(r.Repartitions)
                .Append(" | ").Append(Fmt.Num(r.DecisionMs)).Append(" | ").Append(Fmt.Num(r.SwitchMs)).Append(" |\n");
        }
        md.Append('\n');
        var open = report.Results.Where(r => r.Frames is not null).ToList();
        if (open.Count > 0)
        {
            var f = open[0].Frames!;
            md.Append("### Camera workload\n\n")
                .Append("An open-loop camera: ").Append(Fmt.Num(f.Fps)).Append(" frames/s whether or not earlier frames are answered, each due ")
                .Append(Fmt.Ms(f.DeadlineMs)).Append(" after its capture; at most ").Append(f.MaxInFlight).Append(" frames in the pipeline, a frame captured while it is full is dropped. ")
                .Append("Latency runs from the frame's capture, so it includes queueing behind earlier frames. Deadline misses are dropped, late and failed frames ")
                .Append("as a share of those captured; achieved fps counts answered frames per second. Under time dilation the camera ran slower and its deadline ")
                .Append("longer by the same factor on the host, and every figure here is on the emulated devices' clock.\n\n");
            md.Append("| model | strategy | fps | deadline ms | captured | deadline misses % | dropped | late | failed | achieved fps | energy J/frame").Append(energyLabel).Append(" |\n");
            md.Append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            foreach (var r in open)
            {
                var frames = r.Frames!;
                md.Append("| ").Append(Fmt.Cell(r.Model)).Append(" | ").Append(r.Strategy.Name())
                    .Append(" | ").Append(Fmt.Num(frames.Fps)).Append(" | ").Append(Fmt.Num(frames.DeadlineMs)).Append(" | ").Append(frames.Captured)
                    .Append(" | ").Append(Fmt.Num(frames.MissPercent)).Append(" | ").Append(frames.Dropped).Append(" | ").Append(frames.Late)
                    .Append(" | ").Append(frames.Failed).Append(" | ").Append(Fmt.Num(frames.AchievedFps)).Append(" | ").Append(Fmt.Num(r.EnergyPerInferenceJ)).Append(" |\n");
            }
            md.Append('\n');
        }
        var failing = report.Results.Where(r => r.FailureReasons.Count > 0).ToList();
        if (failing.Count > 0)
        {
            md.Append("### Failed requests\n\n");
            foreach (var r in failing)
            {
                foreach (var (reason, count) in r.FailureReasons)
                {
                    md.Append("- ").Append(Fmt.Cell(r.Model)).Append('/').Append(r.Strategy.Name()).Append(": ").Append(count).Append(" x ").Append(Fmt.Cell(reason)).Append('\n');
                }
            }
            md.Append('\n');
        }

        if (deviceNames.Count > 0)
        {
            md.Append("### CPU and memory per device").Append(report.Emulated ? " (emulated devices)" : "").Append("\n\n");
            md.Append("Mean CPU % / memory MB; empty where a strategy did not use the device.\n\n");
            md.Append("| model | strategy | ").Append(string.Join(" | ", deviceNames.Select(Fmt.Cell))).Append(" |\n");
            md.Append("|---|---|").Append(string.Concat(deviceNames.Select(_ => "---:|"))).Append('\n');
            foreach (var r in report.Results)
            {
                md.Append("| ").Append(Fmt.Cell(r.Model)).Append(" | ").Append(r.Strategy.Name()).Append(" |");
                foreach (var device in deviceNames)
                {
                    var use = r.Devices.FirstOrDefault(d => d.Device == device);
                    md.Append(' ').Append(use is null ? "" : $"{Fmt.Num(use.CpuPercent)} % / {Fmt.Num(use.MemoryMb)} MB").Append(" |");
                }
                md.Append('\n');
            }
            md.Append('\n');
        }

        if (report.Events.Count > 0)
        {
            md.Append("## Scenario events\n\n| | t (s) | event |\n|---|---:|---|\n");
            for (var i = 0; i < report.Events.Count; i++)
            {
                md.Append("| E").Append(i + 1).Append(" | ").Append(Fmt.Num(report.Events[i].TSeconds)).Append(" | ")
                    .Append(Fmt.Cell(report.Events[i].Description)).Append(" |\n");
            }
            md.Append('\n');
        }

        if (report.LiveDashboardUrl is { } dashboard)
        {
            md.Append("## Live dashboard\n\n").Append("While it ran, this run was shown live at <").Append(dashboard).Append("> (up only during the run): ")
                .Append("devices, links, the plan over the model's layers, rolling latency, throughput, energy per frame and the planners' decisions, ")
                .Append("one strategy's coordinator after another. The [plots](#plots) below draw the same measurements after the fact.\n\n");
        }
        md.Append("## Plots\n\n");
        foreach (var model in models)
        {
            if (models.Count > 1)
            {
                md.Append("### ").Append(model).Append("\n\n");
            }
            foreach (var (caption, file) in plots[model])
            {
                md.Append("![").Append(caption.Replace("]", ")", StringComparison.Ordinal)).Append("](").Append(file).Append(")\n\n");
            }
        }
        md.Append("Machine-readable: [results.json](results.json), [results.csv](results.csv), every request in [latencies.csv](latencies.csv).\n");
        return md.ToString();
    }

    private static string Ratio(double? ratio) => ratio is { } r ? Fmt.X(r) : "n/a";
}
