using EdgeSplit.Planning;
using EdgeSplit.Reports;
using EdgeSplit.Testbed;
using EdgeSplit.Testbed.Backends;
using EdgeSplit.Testbed.Calibration;

namespace EdgeSplit.Evaluation;

/// <summary>
/// Runs an <see cref="Experiment"/> for real: for every model, a testbed backend (the namespace testbed as
/// root, else the in-process emulation; <see cref="TestbedBackends"/>) with devices calibrated for that model
/// and dilated if the host is too small; for every strategy, fresh agents, a coordinator with that strategy's
/// plan source, the workload (an open-loop camera with per-frame deadlines, or a bounded closed-loop client) and
/// the scenario played through the backend on the same clock. Energy is each unit's power model applied to measured busy time and bytes
/// moved: estimated.
/// </summary>
public sealed class ExperimentRunner(Experiment experiment, IProgress<LiveFrame>? progress = null, Action<string>? log = null)
{
    public Experiment Experiment { get; } = experiment;

    /// <summary>Which backend ran the last model, in one line (set once it is up).</summary>
    public string? BackendLabel { get; private set; }

    public async Task<BenchReport> RunAsync(CancellationToken ct = default)
    {
        var say = log ?? (_ => { });
        var objective = Objective.Parse(Experiment.Objective);
        var results = new List<StrategyResult>();
        var placements = new Dictionary<(string Model, Strategy Strategy), IReadOnlyList<(string Placement, double Share)>>();
        var runCount = Experiment.Models.Count * Experiment.Strategies.Count;
        var runIndex = 0;
        var labels = new List<string>();
        var emulations = new List<TestbedEmulation>();
        var pytorchNotes = new List<string>();
        EmulatedConditions? conditions = null;
        Report(new LiveFrame(Experiment.Models[0], Experiment.Strategies[0], 0, runCount, 0, Experiment.RunDuration.TotalSeconds, [], [], 0, double.NaN, 0, 0, 0, "calibrating this host"));
        var host = await Task.Run(() => HostCalibration.LoadOrMeasure(say, ct), ct);
        foreach (var modelName in Experiment.Models)
        {
            Report(new LiveFrame(modelName, Experiment.Strategies[0], runIndex, runCount, 0, Experiment.RunDuration.TotalSeconds, [], [], 0, double.NaN, 0, 0, 0, "profiling the model on this host"));
            var model = await Task.Run(() => PreparedModel.Prepare(modelName, Experiment.Seed), ct);
            var emulation = TestbedEmulation.Plan(Experiment.Testbed, host, model.Name);
            emulations.Add(emulation);
            conditions = new EmulatedConditions(emulation, Experiment.Scenario, Experiment.TimeScale);
            await using var backend = await TestbedBackends.StartAsync(Experiment.Testbed, Experiment.TestbedFile ?? Experiment.Testbed.Name + ".yaml", emulation, Experiment.ForceInProcess, say, ct);
            BackendLabel = backend.Label;
            labels.Add(backend.Label);
            say($"{model.Name}: {backend.Label}");
            foreach (var strategy in Experiment.Strategies)
            {
                ct.ThrowIfCancellationRequested();
                if (strategy == Strategy.PytorchRpc)
                {
                    Report(new LiveFrame(model.Name, strategy, runIndex++, runCount, 0, Experiment.RunDuration.TotalSeconds, [], [], 0, double.NaN, 0, 0, 0, "PyTorch RPC on static's split"));
                    var torch = await PyTorch.PyTorchStrategyRun.RunAsync(Experiment, modelName, backend, model, conditions, objective,
                        results.FirstOrDefault(r => r.Model == model.Name && r.Strategy == Strategy.Static), say, ct);
                    results.AddRange(torch.Result is { } r ? [r] : []);
                    pytorchNotes.AddRange(torch.Notes);
                    if (torch.Placement is { } p) placements[(model.Name, strategy)] = [(p, 1.0)];
                    continue;
                }
                var run = new StrategyRun(Experiment, backend, model, strategy, conditions, objective, Report, runIndex, runCount);
                results.Add(await run.RunAsync(ct));
                placements[(model.Name, strategy)] = run.Placements;
                runIndex++;
            }
        }
        var backendLine = string.Join("; ", labels.Distinct());
        var closing = new List<string>
        {
            $"Testbed: {backendLine}.",
            $"All figures are measured on emulated devices on a shared host of {Environment.ProcessorCount} cores; device speeds come from each compute unit's published " +
            $"latencies against this host's own ({host.Describe()}). Energy is estimated from the units' power models (active power above idle x measured busy " +
            "time, plus joules per byte sent and received), not metered.",
        };
        closing.AddRange(emulations.SelectMany(e => e.Describe().Select(line => $"{e.Model}: {line}.")).Distinct());
        closing.Add(Experiment.Workload is { } camera
            ? $"Workload: an open-loop camera, {camera.Fps:0.##} frames/s, each frame due {camera.Deadline.TotalMilliseconds:0} ms after its capture, at most {camera.MaxInFlight} in flight " +
              $"(a frame captured while the pipeline is full is dropped), given up as failed after {camera.GiveUpAfter.TotalSeconds:0.#} s; latency runs from capture, queueing included. " +
              $"Every planner (static's one plan included) knows the frame interval: a plan whose slowest stage or hop takes longer than {camera.Interval.TotalMilliseconds:0.#} ms cannot keep up, and ranks after every plan that can." +
              (emulations.Any(e => e.Dilation.IsDilated) ? " Under time dilation the camera's rate, deadline and give-up time were scaled like every other time, and reported back on the devices' clock." : "")
            : $"Workload: a closed-loop client with {Experiment.Concurrency} request(s) in flight, each given up as failed after {Experiment.Deadline.TotalSeconds:0.#} s; its slow requests hold a client, which flatters a strategy with a slow tail.");
        closing.Add("greedy, optimal, rl and oracle are served by the coordinator's adaptive loop: agents' metrics every 0.5 s (the scenario's load reported as " +
            "emulated utilisation, links estimated from the traffic the agents send), the cost model corrected from every request, the adaptation policy's " +
            "hysteresis and dwell (dwell scaled with the timeline); rl learns from every request; the oracle plans on the true conditions of each scenario window. " +
            "static (the optimal plan for the start conditions) and single (the whole model on the device the cost model finds fastest) keep their plan and " +
            "re-plan only when one of its devices dies.");
        if (emulations.Any(e => e.Dilation.IsDilated))
        {
            closing.Add($"Time dilated: the testbed ran x{string.Join("/", emulations.Select(e => e.Dilation.Factor.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)))} " +
                "slower than the devices it emulates (device speeds and bandwidths divided, latencies, timers, deadlines and scenario times multiplied); every time in this report is divided back.");
        }
        if (Math.Abs(Experiment.TimeScale - 1) > 1e-9)
        {
            closing.Add($"The scenario's timeline is compressed to {Experiment.TimeScale:0.###}x ({Experiment.Scenario.Duration.TotalSeconds:0.#} s played in {Experiment.RunDuration.TotalSeconds:0.#} s per strategy); event times in the plots are on the compressed clock.");
        }
        foreach (var ((modelName, strategy), shares) in placements)
        {
            closing.Add($"{modelName}/{strategy.Name()} served its requests with {shares.Count} placement(s): " +
                string.Join("; ", shares.Take(4).Select(p => $"{p.Placement} {p.Share:P0}")) + (shares.Count > 4 ? "; ..." : "") + ".");
        }
        if (Experiment.BelievedSpeeds.Count > 0)
        {
            closing.Add("Miscalibrated on purpose: the adaptive planners were told each listed device runs at " +
                string.Join(", ", Experiment.BelievedSpeeds.Select(b => $"{b.Key} {b.Value:0.###}x")) + " of its calibrated speed, while the devices ran at their calibrated speeds.");
        }
        if (!Experiment.CostCorrection)
        {
            closing.Add("The cost model's online correction was off: planners did not learn device or link factors from observed times.");
        }
        closing.AddRange(pytorchNotes);
        closing.AddRange(ExperimentNotes.Explain(results, placements));
        var shortBackend = labels.All(l => l.StartsWith("namespace", StringComparison.Ordinal)) ? "namespace testbed (agent processes, tc, cgroups)" : "in-process emulation (no namespaces)";
        return new BenchReport(
            $"{Experiment.Title} ({shortBackend})",
            Experiment.Testbed.Name,
            Experiment.Scenario.Name,
            Experiment.Objective,
            Emulated: true,
            Host: $"{Environment.ProcessorCount} cores shared with other jobs; {backendLine}",
            results,
            conditions?.ReportEvents() ?? [],
            VerdictCriteria.Default,
            string.Join("\n\n", closing));
    }

    private void Report(LiveFrame frame) => progress?.Report(frame);
}
