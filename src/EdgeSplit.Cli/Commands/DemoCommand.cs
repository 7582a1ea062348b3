using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Evaluation;
using EdgeSplit.Reports;
using EdgeSplit.Testbed.Config;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary>
/// <c>edgesplit demo</c>, the main job on a machine with no boards: the proposal's testbed (Pi 4s, one
/// with the camera, and Jetson Nanos on a switch, the camera on Wi-Fi) emulated on this host, in network
/// namespaces as root, MobileNetV2 through the mixed scenario with static, optimal, rl and the oracle, a
/// live view, then the report and its verdict.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The flag that keeps bench and demo on the in-process emulation even as root.</summary>
    public static Option<bool> InProcessOption() => new("--in-process")
    {
        Description = "Run the devices in this process on loopback (the fallback) even where the namespace testbed could run; also EDGESPLIT_FORCE_INPROCESS=1.",
    };

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder for the report.", DefaultValueFactory = _ => "edgesplit-demo" };
        var duration = new Option<double>("--duration")
        {
            Description = "Seconds each strategy runs (on the emulated devices' clock); the mixed scenario's 60 s timeline is compressed to fit. 20 s keeps the demo, build included, under 4 minutes on 2 cores.",
            DefaultValueFactory = _ => 20,
        };
        var dashboard = LiveDashboard.Option();
        var inProcess = InProcessOption();
        var workload = new WorkloadOptions();
        var command = new Command("demo", "The main job: MobileNetV2 split over the proposal's testbed (Pi 4s and Jetson Nanos, emulated) through changing conditions; static vs adaptive, with a report.")
        {
            output, duration, inProcess, dashboard,
        };
        foreach (var option in workload.All) command.Options.Add(option);
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var seconds = parse.GetValue(duration);
            if (!(seconds is >= 3 and <= 3600)) throw new Graph.BadInputException($"--duration must be between 3 and 3600 seconds, got {seconds.ToString(CultureInfo.InvariantCulture)}");
            var (camera, inFlight) = workload.Parse(parse, TimeSpan.FromSeconds(5));
            var started = Stopwatch.StartNew();
            var testbedFile = EvaluationView.Example(Path.Combine("testbeds", "proposal.yaml"));
            var testbed = TestbedSpec.Load(testbedFile);
            var scenario = Scenario.Load(EvaluationView.Example(Path.Combine("scenarios", "proposal", "mixed.yaml")));
            await using var live = await LiveDashboard.StartAsync(parse.GetValue(dashboard)!, ct);
            var experiment = new Experiment(["mobilenetv2"], testbed, scenario, [Strategy.Static, Strategy.Optimal, Strategy.Rl, Strategy.Oracle],
                Duration: TimeSpan.FromSeconds(seconds), Concurrency: inFlight, Title: "EdgeSplit demo: MobileNetV2 on the proposal's testbed (emulated), mixed scenario")
            {
                ForceInProcess = parse.GetValue(inProcess),
                Workload = camera,
                TestbedFile = testbedFile,
                Dashboard = live?.Feed,
            };
            Terminal.Out.MarkupLine($"[bold]EdgeSplit demo[/]: mobilenetv2 on [bold]{Markup.Escape(testbed.Name)}[/] ({string.Join(", ", testbed.Devices.Select(d => $"{Markup.Escape(d.Name)}={Markup.Escape(d.Profile.Name)}"))}), " +
                $"scenario [bold]{Markup.Escape(scenario.Name)}[/] compressed {scenario.Duration.TotalSeconds:0} s -> {seconds:0} s per strategy; static, optimal, rl, and the hindsight oracle as the yardstick; " +
                (camera is { } c ? $"a camera at {c.Fps:0.##} fps, each frame due {c.Deadline.TotalMilliseconds:0} ms after capture." : $"a closed-loop client with {inFlight} requests in flight."));
            Terminal.Out.MarkupLine($"[grey]testbed: {Markup.Escape(EvaluationView.ExpectedBackend(experiment.ForceInProcess))}; energy estimated from power models.[/]");
            var (report, backend) = await LiveRun.RunAsync(experiment, testbed.Devices.Select(d => d.Name).ToList(), ct, live);
            Terminal.Out.MarkupLine($"[bold]testbed that ran[/]: {Markup.Escape(backend)}");
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
    /// <summary>Runs the experiment and returns its report and the line saying which testbed backend ran it.</summary>
    public static async Task<(BenchReport Report, string Backend)> RunAsync(Experiment experiment, IReadOnlyList<string> deviceOrder, CancellationToken ct, Cluster.Dashboard.DashboardServer? dashboard = null)
    {
        LiveFrame? latest = null;
        var progress = new Latest(frame => Volatile.Write(ref latest, frame));
        var interactive = Terminal.Out.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        // Under the live view a line would tear the display: keep the runner's messages for after it.
        var held = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var runner = new ExperimentRunner(experiment, LiveDashboard.Labelled(progress, dashboard), message =>
        {
            if (interactive) held.Enqueue(message);
            else Console.Error.WriteLine(message);
        });
        var run = runner.RunAsync(ct);
        if (interactive)
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
        var report = await run;
        foreach (var message in held) Console.Error.WriteLine(message);
        return (report, runner.BackendLabel ?? "none");
    }

    private sealed class Latest(Action<LiveFrame> onFrame) : IProgress<LiveFrame>
    {
        public void Report(LiveFrame value) => onFrame(value);
    }
}
