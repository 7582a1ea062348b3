using System.CommandLine;
using System.Globalization;
using EdgeSplit.Evaluation;
using EdgeSplit.Graph;
using EdgeSplit.Reports;
using EdgeSplit.Testbed.Config;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary>
/// <c>edgesplit bench</c>: every model and strategy on one testbed through one scenario (same seeds),
/// written as results.json/csv, report.md and plots; <c>--sweep</c> tries every cut between two
/// devices; <c>--table41</c> times the zoo on each single device profile.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var models = new Option<string?>("--models") { Description = "Comma-separated zoo names or ONNX files, e.g. mobilenetv2,resnet18." };
        var model = new Option<string?>("--model") { Description = "One model (for --sweep; same as --models with one name otherwise)." };
        var testbed = new Option<string>("--testbed") { Description = "A testbed YAML file (see examples/testbeds/).", Required = true };
        var scenario = new Option<string?>("--scenario") { Description = "A scenario YAML file (see examples/scenarios/)." };
        var strategies = new Option<string>("--strategies")
        {
            Description = "Comma-separated: single, static, greedy, optimal, rl, oracle, tiles (optimal with tile groups allowed; not in the default set), pytorch-rpc (static's split over PyTorch RPC; needs root and python3-torch, which it installs as root).",
            DefaultValueFactory = _ => "single,static,greedy,optimal,rl,oracle",
        };
        var objective = new Option<string>("--objective") { Description = "latency, energy, throughput or weighted.", DefaultValueFactory = _ => "latency" };
        var duration = new Option<double?>("--duration") { Description = "Seconds each strategy runs; the scenario's timeline is scaled to fit (default: its own duration)." };
        var seed = new Option<int>("--seed") { Description = "Seed of inputs and of the rl planner, the same for every strategy.", DefaultValueFactory = _ => 42 };
        var workload = new WorkloadOptions();
        var deadline = new Option<double>("--deadline") { Description = "Seconds an unanswered frame or request may take before it is given up and counts as failed.", DefaultValueFactory = _ => 5 };
        var sweep = new Option<bool>("--sweep") { Description = "Run every cut of --model between the source and one other device, sequential and pipelined." };
        var runtimes = new Option<string>("--runtimes")
        {
            Description = "With --sweep: comma-separated runtimes to sweep, edgesplit and/or pytorch-rpc (PyTorch RPC on the same devices; needs root and python3-torch).",
            DefaultValueFactory = _ => SweepRuntimes.EdgeSplit,
        };
        var table41 = new Option<bool>("--table41") { Description = "Time the six zoo models on each device profile of the testbed (heavy)." };
        var believe = new Option<string?>("--believe")
        {
            Description = "Miscalibrate profiles: DEVICE=FACTOR,... tells the adaptive planners each device runs at FACTOR x its calibrated speed; devices still run at their calibrated speed.",
        };
        var inProcess = DemoCommand.InProcessOption();
        var noCorrection = new Option<bool>("--no-correction") { Description = "Switch the cost model's online correction off for the adaptive strategies." };
        var output = new Option<string>("--out") { Description = "Folder for the report.", Required = true };
        var json = CommonOptions.Json();
        var dashboard = LiveDashboard.Option();
        var command = new Command("bench", "Measure strategies on an emulated testbed through a scenario and write a report (results.json, results.csv, report.md, plots).")
        {
            models, model, testbed, scenario, strategies, objective, duration, seed, deadline, believe, noCorrection, inProcess, sweep, runtimes, table41, output, json, dashboard,
        };
        foreach (var option in workload.All) command.Options.Add(option);
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var spec = TestbedSpec.Load(parse.GetValue(testbed)!);
            var outDir = parse.GetValue(output)!;
            if (parse.GetValue(sweep))
            {
                var name = parse.GetValue(model) ?? throw new BadInputException("--sweep needs --model NAME");
                var sweepRuntimes = parse.GetValue(runtimes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
                if (sweepRuntimes.Count == 0 || sweepRuntimes.Any(r => !SweepRuntimes.All.Contains(r)))
                {
                    throw new BadInputException($"--runtimes takes {string.Join(" and/or ", SweepRuntimes.All)}, comma-separated; got '{parse.GetValue(runtimes)}'");
                }
                var sweepLog = new System.Collections.Concurrent.ConcurrentQueue<string>();
                var sweepReport = await WithProgress("sweep", progress => Task.Run(() => SweepRunner.Run(name, spec, parse.GetValue(seed), progress, ct, parse.GetValue(inProcess), sweepRuntimes, sweepLog.Enqueue), ct));
                foreach (var message in sweepLog) Console.Error.WriteLine(message);
                var files = ReportWriter.Write(sweepReport, outDir);
                return Done(parse.GetValue(json), files, null);
            }
            if (parse.GetValue(table41))
            {
                var table = await WithProgress("table 4.1", progress => Task.Run(() => SweepRunner.Table41(spec, parse.GetValue(seed), progress, ct), ct));
                var files = ReportWriter.Write(table, outDir);
                return Done(parse.GetValue(json), files, null);
            }

            var names = (parse.GetValue(models) ?? parse.GetValue(model) ?? throw new BadInputException("give --models M1,M2 (or --model M)"))
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
            if (names.Count == 0) throw new BadInputException("--models is empty; give at least one zoo name or ONNX file");
            var scenarioFile = parse.GetValue(scenario) ?? throw new BadInputException("give --scenario FILE (see examples/scenarios/)");
            var play = Scenario.Load(scenarioFile);
            foreach (var device in play.Devices.Where(d => spec.Devices.All(x => x.Name != d)))
            {
                throw new BadInputException($"scenario {play.Name} names device '{device}', which testbed {spec.Name} does not have; use the testbed's device names ({string.Join(", ", spec.Devices.Select(d => d.Name))})");
            }
            var chosen = parse.GetValue(strategies)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => Strategies.Parse(s) ?? throw new BadInputException($"unknown strategy '{s}'; use {string.Join(", ", Enum.GetValues<Strategy>().Select(x => x.Name()))}"))
                .Distinct().ToList();
            if (chosen.Count == 0) throw new BadInputException("--strategies is empty");
            var goal = parse.GetValue(objective)!;
            Planning.Objective.Parse(goal);
            var seconds = parse.GetValue(duration);
            if (seconds is { } s && !(s is >= 1 and <= 86_400)) throw new BadInputException($"--duration must be between 1 and 86400 seconds, got {s.ToString(CultureInfo.InvariantCulture)}");
            if (!(parse.GetValue(deadline) is > 0 and <= 600)) throw new BadInputException("--deadline must be between 0 and 600 seconds");
            var (camera, inFlight) = workload.Parse(parse, TimeSpan.FromSeconds(parse.GetValue(deadline)));
            // Every option is checked before the dashboard comes up: bad input ends with its one error line.
            var beliefs = ParseBeliefs(parse.GetValue(believe), spec);
            await using var live = await LiveDashboard.StartAsync(parse.GetValue(dashboard)!, ct);
            var experiment = new Experiment(names, spec, play, chosen, goal,
                seconds is { } d ? TimeSpan.FromSeconds(d) : null, parse.GetValue(seed), inFlight,
                TimeSpan.FromSeconds(parse.GetValue(deadline)), $"EdgeSplit bench: {string.Join(", ", names)} on {spec.Name}, scenario {play.Name}")
            {
                BelievedSpeeds = beliefs,
                Workload = camera,
                CostCorrection = !parse.GetValue(noCorrection),
                ForceInProcess = parse.GetValue(inProcess),
                TestbedFile = Path.GetFullPath(parse.GetValue(testbed)!),
                Dashboard = live?.Feed,
            };

            Terminal.Err.MarkupLine($"[grey]testbed: {Markup.Escape(EvaluationView.ExpectedBackend(experiment.ForceInProcess))}[/]");
            // Under the progress bars a line would tear the display: the runner's messages come after them.
            var held = new System.Collections.Concurrent.ConcurrentQueue<string>();
            var report = await WithProgress("bench", progress => new ExperimentRunner(experiment, LiveDashboard.Labelled(progress, live), held.Enqueue).RunAsync(ct));
            foreach (var message in held) Console.Error.WriteLine(message);
            var written = ReportWriter.Write(report with { LiveDashboardUrl = live?.Url }, outDir);
            return Done(parse.GetValue(json), written, report);
        });
        return command;
    }

    private static Dictionary<string, double> ParseBeliefs(string? text, TestbedSpec spec)
    {
        var beliefs = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pieces = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pieces.Length != 2 || !double.TryParse(pieces[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var speed) || !(speed is > 0 and <= 100))
            {
                throw new BadInputException($"--believe '{part}' is not DEVICE=FACTOR with a factor above 0, e.g. --believe camera=0.2");
            }
            if (spec.Devices.All(d => d.Name != pieces[0]))
            {
                throw new BadInputException($"--believe names '{pieces[0]}', which testbed {spec.Name} does not have; use {string.Join(", ", spec.Devices.Select(d => d.Name))}");
            }
            beliefs[pieces[0]] = speed;
        }
        return beliefs;
    }

    private static int Done(bool json, ReportFiles files, BenchReport? report)
    {
        if (json)
        {
            Terminal.WriteJson(new
            {
                Report = files.ReportMarkdown,
                Files = files.Files,
                Verdict = report is null ? null : Verdict.Evaluate(report.Results, report.Criteria).Select(v => new
                {
                    v.Model,
                    BestAdaptive = v.BestAdaptive?.Strategy.Name(),
                    v.AllPass,
                    Criteria = v.Outcomes.Select(o => new { o.Criterion, Outcome = o.OutcomeText, o.Detail }),
                }),
            });
            return ExitCodes.Ok;
        }
        Terminal.Out.MarkupLine($"report: [bold]{Markup.Escape(files.ReportMarkdown)}[/] ({files.Files.Count} files)");
        if (report is not null) Terminal.Out.MarkupLine($"[grey]testbed that ran: {Markup.Escape(report.Host)}[/]");
        if (report is not null) EvaluationView.WriteSummary(Terminal.Out, report);
        return ExitCodes.Ok;
    }

    /// <summary>A Spectre progress bar on stderr, one task per run, fed by the runner's frames.</summary>
    private static async Task<T> WithProgress<T>(string label, Func<IProgress<LiveFrame>, Task<T>> run)
    {
        T result = default!;
        await Terminal.Err.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = new Dictionary<int, ProgressTask>();
                var gate = new object();
                var progress = new FrameProgress(frame =>
                {
                    lock (gate)
                    {
                        if (!tasks.TryGetValue(frame.RunIndex, out var task))
                        {
                            foreach (var done in tasks.Values.Where(t => !t.IsFinished)) done.Value = done.MaxValue;
                            task = ctx.AddTask(Markup.Escape($"{label} {frame.Model}/{frame.Strategy.Name()} ({frame.RunIndex + 1}/{frame.RunCount})"), maxValue: Math.Max(1, frame.DurationS));
                            tasks[frame.RunIndex] = task;
                        }
                        task.Value = Math.Min(task.MaxValue, frame.ElapsedS);
                        task.Description = Markup.Escape($"{label} {frame.Model}/{frame.Strategy.Name()} ({frame.RunIndex + 1}/{frame.RunCount}) {frame.Phase}");
                    }
                });
                result = await run(progress);
                lock (gate)
                {
                    foreach (var task in tasks.Values) task.Value = task.MaxValue;
                }
            });
        return result;
    }

    private sealed class FrameProgress(Action<LiveFrame> onFrame) : IProgress<LiveFrame>
    {
        public void Report(LiveFrame value) => onFrame(value);
    }
}
