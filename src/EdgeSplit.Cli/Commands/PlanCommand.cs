using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Evaluation;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Runtime;
using EdgeSplit.Testbed;
using EdgeSplit.Testbed.Calibration;
using EdgeSplit.Testbed.Config;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary>
/// <c>edgesplit plan</c>: one planning decision for a model on a described testbed. Node times are
/// measured on this host with ONNX Runtime and scaled to each device by its unit's speed (published
/// latencies over this host's), so the figures are estimates for emulated devices.
/// </summary>
internal static class PlanCommand
{
    private const int DecisionWarmups = 30, DecisionRepeats = 21;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "An ONNX file or a zoo model name (see 'edgesplit zoo').", Required = true };
        var testbed = new Option<string>("--testbed") { Description = "A testbed YAML file (see examples/testbeds/).", Required = true };
        var planner = new Option<string>("--planner")
        {
            Description = $"One of {string.Join(", ", PlannerRegistry.Names)} (oracle plans on the described state itself).",
            DefaultValueFactory = _ => "optimal",
        };
        var objective = new Option<string>("--objective")
        {
            Description = "latency, energy, throughput or weighted (latency + --energy-weight x energy).",
            DefaultValueFactory = _ => "latency",
        };
        var energyWeight = new Option<double>("--energy-weight")
        {
            Description = "Milliseconds one joule is worth, for --objective weighted.",
            DefaultValueFactory = _ => 100,
        };
        var policy = new Option<string?>("--policy") { Description = "An RL policy JSON file to start warm from (rl only)." };
        var profileCache = new Option<string?>("--profile-cache") { Description = "Folder of stored node-time profiles to reuse (measured and stored if missing)." };
        var inputShape = ModelOptions.InputShape();
        var json = CommonOptions.Json();
        var fps = CommonOptions.PlanFps();
        var command = new Command("plan", "Decide where each segment of a model runs on a testbed, and predict latency, energy and throughput.")
        {
            model, testbed, planner, objective, energyWeight, fps, policy, profileCache, inputShape, json,
        };
        CommandRunner.SetAction(command, (parse, _) =>
        {
            var weight = parse.GetValue(energyWeight);
            if (!(weight >= 0)) throw new BadInputException($"--energy-weight must be >= 0, got {weight}");
            var goal = CommonOptions.AtFrameRate(Objective.Parse(parse.GetValue(objective)!, weight), parse.GetValue(fps));
            var plannerName = parse.GetValue(planner)!.Trim().ToLowerInvariant();
            if (!PlannerRegistry.Names.Contains(plannerName)) throw new BadInputException($"unknown planner '{plannerName}'; use one of {string.Join(", ", PlannerRegistry.Names)}");
            var spec = TestbedSpec.Load(parse.GetValue(testbed)!);
            var onnx = ModelOptions.Load(parse.GetValue(model)!);

            var profileStarted = Stopwatch.GetTimestamp();
            var cache = parse.GetValue(profileCache);
            var measured = ModelProfiling.Measure(onnx, parse.GetValue(inputShape), store: cache is null ? null : new ProfileStore(cache));
            var profileMs = Stopwatch.GetElapsedTime(profileStarted).TotalMilliseconds;
            var emulation = TestbedEmulation.Plan(spec, HostCalibration.LoadOrMeasure(message => Console.Error.WriteLine(message)), Path.GetFileNameWithoutExtension(onnx.DisplayName));
            var state = EmulatedConditions.DescribedState(emulation, measured.Profile);

            var costModel = new CostModel(correctionEnabled: false);
            var registry = new PlannerRegistry(costModel);
            var chosen = registry.Create(plannerName, [new ConditionWindow(TimeSpan.Zero, TimeSpan.MaxValue, state)]);
            if (chosen is RlPlanner rl && parse.GetValue(policy) is { } policyFile) rl.Load(policyFile);

            // A one-shot decision does not explore: rl gives the plan it believes best.
            Plan Decide() => chosen is RlPlanner learner ? learner.Exploit(state, goal) : chosen.Plan(state, goal);
            var started = Stopwatch.GetTimestamp();
            var plan = Decide();
            var firstDecisionMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            // What a running coordinator pays: the median of repeated decisions once the JIT has settled
            // (the first calls run tier-0 code; tier 1 comes after 30 calls and a quiet moment of the background compiler).
            var warming = Stopwatch.StartNew();
            var warmups = 0;
            for (; warmups < 2000 && (warmups < DecisionWarmups || warming.Elapsed < TimeSpan.FromMilliseconds(500)); warmups++)
            {
                Decide();
            }
            var decisionTimes = new double[DecisionRepeats];
            for (var i = 0; i < decisionTimes.Length; i++)
            {
                started = Stopwatch.GetTimestamp();
                plan = Decide();
                decisionTimes[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
            var decisionMs = LatencyStats.Percentile(decisionTimes.Order().ToArray(), 50);
            var estimate = costModel.Estimate(state, plan);
            var stages = plan.Stages.Select((s, k) => new
            {
                s.Device,
                FirstNode = s.FirstNode,
                LastNode = s.LastNode,
                CutBefore = s.FirstNode == 0 ? (int?)null : s.FirstNode - 1,
                CutAfter = s.LastNode == onnx.Nodes.Count - 1 ? (int?)null : s.LastNode,
                ComputeMs = estimate.StageComputeMs[k],
                MemoryBytes = estimate.StageMemoryBytes[k],
            }).ToList();

            if (parse.GetValue(json))
            {
                Terminal.WriteJson(new
                {
                    Model = Path.GetFileName(onnx.DisplayName),
                    Testbed = spec.Name,
                    Source = spec.Source,
                    Planner = plannerName,
                    Objective = goal.Kind.ToString().ToLowerInvariant(),
                    Stages = stages,
                    PredictedLatencyMs = estimate.LatencyMs,
                    PredictedEnergyJ = estimate.EnergyJ,
                    PredictedThroughputPerS = estimate.ThroughputPerS,
                    DecisionMs = decisionMs,
                    DecisionMsMeasured = $"median of {DecisionRepeats} decisions after {warmups + 1} warm-up ones",
                    FirstDecisionMs = firstDecisionMs,
                    ProfileMs = profileMs,
                    Estimated = "predictions for emulated devices: node times measured on this host, scaled by each device's unit speed (its published latencies over this host's); energy from power models",
                    Host = emulation.Host.Describe(),
                });
                return Task.FromResult(ExitCodes.Ok);
            }
            var table = new Table().Border(TableBorder.Rounded).AddColumns("device", "nodes", "cuts", "compute ms (estimated)", "memory");
            foreach (var s in stages)
            {
                table.AddRow(
                    Markup.Escape(s.Device),
                    $"{s.FirstNode}..{s.LastNode}",
                    $"{s.CutBefore?.ToString(CultureInfo.InvariantCulture) ?? "input"} -> {s.CutAfter?.ToString(CultureInfo.InvariantCulture) ?? "output"}",
                    s.ComputeMs.ToString("F2", CultureInfo.InvariantCulture),
                    Terminal.Bytes(s.MemoryBytes));
            }
            Terminal.Out.Write(table);
            Terminal.Out.MarkupLine(
                $"[bold]{plannerName}[/] for {goal.Kind.ToString().ToLowerInvariant()} on {Markup.Escape(spec.Name)} (emulated devices, estimated): " +
                $"latency {estimate.LatencyMs.ToString("F1", CultureInfo.InvariantCulture)} ms, energy {estimate.EnergyJ.ToString("F3", CultureInfo.InvariantCulture)} J, " +
                $"throughput {estimate.ThroughputPerS.ToString("F1", CultureInfo.InvariantCulture)}/s; decided in {decisionMs.ToString("F2", CultureInfo.InvariantCulture)} ms");
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
