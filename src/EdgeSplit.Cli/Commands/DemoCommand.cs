using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Evaluation;
using EdgeSplit.Reports;
using EdgeSplit.Testbed.Config;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary>
/// <c>edgesplit demo</c>, the main job on a machine with no boards: the three-device testbed (a Pi 4
/// with the camera, a Jetson Nano, a laptop) emulated on this host, MobileNetV2 through the mixed
/// scenario with static, optimal, rl and the oracle, a live view, then the report and its verdict.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder for the report.", DefaultValueFactory = _ => "edgesplit-demo" };
        var duration = new Option<double>("--duration")
        {
            Description = "Seconds each strategy runs; the mixed scenario's 120 s timeline is compressed to fit (so the demo ends in about 2 minutes).",
            DefaultValueFactory = _ => 30,
        };
        var dashboard = LiveDashboard.Option();
        var command = new Command("demo", "The main job: MobileNetV2 split over an emulated Pi 4, Jetson Nano and laptop through changing conditions; static vs adaptive, with a report.")
        {
            output, duration, dashboard,
        };
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var seconds = parse.GetValue(duration);
            if (!(seconds is >= 3 and <= 3600)) throw new Graph.BadInputException($"--duration must be between 3 and 3600 seconds, got {seconds.ToString(CultureInfo.InvariantCulture)}");
            var started = Stopwatch.StartNew();
            var testbed = TestbedSpec.Load(EvaluationView.Example(Path.Combine("testbeds", "three-device.yaml")));
            var scenario = Scenario.Load(EvaluationView.Example(Path.Combine("scenarios", "mixed.yaml")));
            await using var live = await LiveDashboard.StartAsync(parse.GetValue(dashboard)!, ct);
            var experiment = new Experiment(["mobilenetv2"], testbed, scenario, [Strategy.Static, Strategy.Optimal, Strategy.Rl, Strategy.Oracle],
                Duration: TimeSpan.FromSeconds(seconds), Title: "EdgeSplit demo: MobileNetV2 on an emulated three-device testbed, mixed scenario") { Dashboard = live?.Feed };
            Terminal.Out.MarkupLine($"[bold]EdgeSplit demo[/]: mobilenetv2 on [bold]{Markup.Escape(testbed.Name)}[/] ({string.Join(", ", testbed.Devices.Select(d => $"{Markup.Escape(d.Name)}={Markup.Escape(d.Profile.Name)}"))}), " +
                $"scenario [bold]{Markup.Escape(scenario.Name)}[/] compressed {scenario.Duration.TotalSeconds:0} s -> {seconds:0} s per strategy; static, optimal, rl, and the hindsight oracle as the yardstick.");
            Terminal.Out.MarkupLine($"[grey]{Markup.Escape(ExperimentRunner.DeviceMode)}; energy estimated from power models.[/]");
            var report = await LiveRun.RunAsync(experiment, testbed.Devices.Select(d => d.Name).ToList(), ct, live);
            var files = ReportWriter.Write(report with { LiveDashboardUrl = live?.Url }, parse.GetValue(output)!);
            Terminal.Out.MarkupLine($"report: [bold]{Markup.Escape(files.ReportMarkdown)}[/] (results.json, results.csv and PNG plots beside it)");
            EvaluationView.WriteSummary(Terminal.Out, report);
            Terminal.Out.MarkupLine($"[grey]demo finished in {started.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s[/]");
            return ExitCodes.Ok;
        });
        return command;
    }
}

/// <summary>Runs an experiment with the live view: Spectre Live on a terminal, a plain line every few seconds otherwise.</summary>
internal static class LiveRun
{
    public static async Task<BenchReport> RunAsync(Experiment experiment, IReadOnlyList<string> deviceOrder, CancellationToken ct, Cluster.Dashboard.DashboardServer? dashboard = null)
    {
        LiveFrame? latest = null;
        var progress = new Latest(frame => Volatile.Write(ref latest, frame));
        var runner = new ExperimentRunner(experiment, LiveDashboard.Labelled(progress, dashboard));
        var run = runner.RunAsync(ct);
        if (Terminal.Out.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            await Terminal.Out.Live(EvaluationView.Render(null, deviceOrder)).StartAsync(async ctx =>
            {
                while (!run.IsCompleted)
                {
                    await Task.WhenAny(run, Task.Delay(250, CancellationToken.None));
                    ctx.UpdateTarget(EvaluationView.Render(Volatile.Read(ref latest), deviceOrder));
                }
            });
        }
        else
        {
            var lastPrinted = -10.0;
            while (!run.IsCompleted)
            {
                await Task.WhenAny(run, Task.Delay(500, CancellationToken.None));
                var frame = Volatile.Read(ref latest);
                if (frame is not null && frame.Devices.Count > 0 && (frame.ElapsedS - lastPrinted >= 3 || frame.ElapsedS < lastPrinted))
                {
                    lastPrinted = frame.ElapsedS;
                    Console.Out.WriteLine(EvaluationView.Line(frame));
                }
            }
        }
        return await run;
    }

    private sealed class Latest(Action<LiveFrame> onFrame) : IProgress<LiveFrame>
    {
        public void Report(LiveFrame value) => onFrame(value);
    }
}
