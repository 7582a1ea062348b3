using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Planning;
using EdgeSplit.Reports;
using EdgeSplit.Testbed;
using EdgeSplit.Testbed.Backends;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Evaluation;

/// <summary>
/// One strategy on one model: fresh agents from the backend, a coordinator with the strategy's plan source,
/// the workload (an open-loop camera, <see cref="FrameSource"/>, or a bounded closed-loop client), the scenario played through the same backend on
/// the same clock, and every device sampled. Everything runs on the host's (dilated) clock and is reported
/// on the emulated devices' clock.
/// </summary>
internal sealed class StrategyRun(Experiment experiment, ITestbedBackend backend, PreparedModel model, Strategy strategy, EmulatedConditions conditions, Objective objective, Action<LiveFrame> report, int runIndex, int runCount)
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);
    private readonly ConcurrentQueue<Served> _served = new();
    private readonly ConcurrentDictionary<long, Plan> _plans = new();
    private readonly Stopwatch _clock = new();
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private int _failed;
    private int _sent;

    /// <summary>Each placement that served requests, with its share of them, most used first.</summary>
    public IReadOnlyList<(string Placement, double Share)> Placements { get; private set; } = [];

    private TimeDilation Dilation => backend.Emulation.Dilation;

    /// <summary>The run's clock (host time).</summary>
    private TimeSpan Now => _clock.Elapsed;

    /// <summary>One answered request: when it was sent and how long it took (host clock), the plan and what each hop computed.</summary>
    private sealed record Served(TimeSpan SentAt, double LatencyMs, long Version, IReadOnlyList<HopTiming> Hops);

    public async Task<StrategyResult> RunAsync(CancellationToken ct)
    {
        report(Frame(null, [], "starting fresh agents"));
        await backend.ResetAsync(ct);
        CoordinatorHost? coordinator = null;
        try
        {
            var start = conditions.At(TimeSpan.Zero);
            // Tiles: the optimal planner with the model's tile geometry in its profile, so it weighs tile groups beside layer-wise plans.
            var profile = strategy == Strategy.Tiles ? model.TiledProfile() : model.Profile;
            var planned = experiment.PlanningObjective(objective, Dilation);
            var source = new StrategyPlanSource(strategy, () => conditions.StateOf(conditions.At(Now), profile), planned,
                conditions.Windows(profile), conditions.HostScale, experiment.Seed);
            var options = backend.ConfigureCoordinator(new CoordinatorOptions
            {
                SourceDevice = experiment.Testbed.Source,
                AttemptTimeout = experiment.Deadline / 2,
                MaxAttempts = 2,
                HealthInterval = TimeSpan.FromMilliseconds(250),
                ProbeTimeout = TimeSpan.FromMilliseconds(500),
                ConfigureLogging = Quiet,
                Dashboard = experiment.Dashboard,
            });
            report(Frame(null, [], "deploying the first plan"));
            if (IsServedAdaptively(strategy))
            {
                // The coordinator's own adaptive loop: it plans from the agents' measured metrics and link
                // estimates, and learns from every request; the runner only plays the scenario and measures.
                var nominal = conditions.StateOf(start, model.Profile);
                var believed = nominal.Devices.Select(d => experiment.BelievedSpeeds.TryGetValue(d.Name, out var factor) ? d with { RelativeSpeed = d.RelativeSpeed * factor } : d);
                var adaptive = Dilation.Apply(new AdaptiveOptions(strategy == Strategy.Tiles ? Strategy.Optimal.Name() : strategy.Name(), planned, believed.ToDictionary(d => d.Name),
                    CostCorrection: experiment.CostCorrection, RlPolicyFile: null,
                    Adaptation: AdaptationOptions.Default with { MinDwell = AdaptationOptions.Default.MinDwell * conditions.TimeScale })
                {
                    MetricsInterval = TimeSpan.FromMilliseconds(500),
                    Links = nominal.Links,
                    OracleTruth = strategy == Strategy.Oracle ? conditions.Windows(model.Profile) : null,
                    Clock = () => Now,
                    // rl explores only plans predicted to meet the camera's deadline (on the host's clock, like the model's timers).
                    Rl = new RlOptions(Seed: experiment.Seed, DeadlineMs: experiment.Workload is { } camera ? Dilation.Stretch(camera.Deadline).TotalMilliseconds : null),
                });
                coordinator = await CoordinatorHost.StartAsync(model.Served with { Profile = profile }, backend.Agents, adaptive, options, ct);
            }
            else
            {
                coordinator = await CoordinatorHost.StartAsync(model.Served, backend.Agents, source, options, null, ct);
            }
            Remember(coordinator.CurrentPlan);
            report(Frame(coordinator.CurrentPlan, [], "warming up (not counted)"));
            await WarmUpAsync(coordinator, ct);
            return await DriveAsync(coordinator, source, ct);
        }
        finally
        {
            if (coordinator is not null)
            {
                try
                {
                    await coordinator.DisposeAsync();
                }
                catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException)
                {
                    // Teardown after a device died: nothing left to release.
                }
            }
        }
    }

    /// <summary>
    /// A few uncounted requests first, so no strategy pays for JIT compilation and cold connections that the
    /// one before it already paid for (the order of strategies must not decide the figures).
    /// </summary>
    private async Task WarmUpAsync(CoordinatorHost coordinator, CancellationToken ct)
    {
        var until = Stopwatch.StartNew();
        for (var i = 0; i < 8 && until.Elapsed < Dilation.Stretch(TimeSpan.FromSeconds(3)); i++)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(Dilation.Stretch(experiment.Deadline));
            try
            {
                await coordinator.InferAsync(model.Inputs, deadline.Token);
            }
            catch (Exception) when (!ct.IsCancellationRequested)
            {
                // A warm-up miss is not a measured failure; the run itself counts what fails.
            }
        }
    }

    private async Task<StrategyResult> DriveAsync(CoordinatorHost coordinator, StrategyPlanSource source, CancellationToken ct)
    {
        var duration = Dilation.Stretch(experiment.RunDuration);
        _clock.Restart();
        Task<FrameTally>? camera = null;
        var workers = new List<Task>();
        if (experiment.Workload is { } workload)
        {
            camera = Task.Run(() => CameraAsync(coordinator, workload.Stretched(Dilation.Factor), duration, ct), ct);
            workers.Add(camera);
        }
        else
        {
            workers.AddRange(Enumerable.Range(0, Math.Max(1, experiment.Concurrency)).Select(_ => Task.Run(() => LoadAsync(coordinator, duration, ct), ct)));
        }
        var player = ScenarioPlayer.PlayAsync(backend, experiment.Scenario, conditions.HostScale, null, TimeProvider.System, duration, ct);

        var devices = experiment.Testbed.Devices;
        var busyMs = devices.ToDictionary(d => d.Name, _ => 0.0);
        var cpuSums = devices.ToDictionary(d => d.Name, _ => 0.0);
        var memorySums = devices.ToDictionary(d => d.Name, _ => 0.0);
        var samples = 0;
        var lastTick = TimeSpan.Zero;
        var servedList = new List<Served>();
        while (Now < duration)
        {
            await Task.Delay(Dilation.Stretch(Tick), ct);
            var now = Now;
            var interval = now - lastTick;
            lastTick = now;
            var tickBusyMs = devices.ToDictionary(d => d.Name, _ => 0.0);
            while (_served.TryDequeue(out var s))
            {
                servedList.Add(s);
                foreach (var hop in s.Hops.Where(h => tickBusyMs.ContainsKey(h.Device)))
                {
                    tickBusyMs[hop.Device] += hop.ComputeMs;
                }
            }
            var plan = coordinator.CurrentPlan;
            Remember(plan);
            var sample = backend.Sample();
            var frames = new List<DeviceFrame>();
            foreach (var device in devices)
            {
                busyMs[device.Name] += tickBusyMs[device.Name];
                var cpuPercent = interval > TimeSpan.Zero ? Math.Min(100, tickBusyMs[device.Name] / interval.TotalMilliseconds * 100) : 0;
                var memoryMb = plan is null ? 0 : plan.Stages.Where(s => s.Device == device.Name)
                    .Sum(s => model.Profile.NodeMemoryBytes.Skip(s.FirstNode).Take(s.LastNode - s.FirstNode + 1).Sum()) / (1024.0 * 1024.0);
                cpuSums[device.Name] += cpuPercent;
                memorySums[device.Name] += memoryMb;
                var link = sample.Links.FirstOrDefault(l => (l.A == experiment.Testbed.Source && l.B == device.Name) || (l.B == experiment.Testbed.Source && l.A == device.Name));
                frames.Add(new DeviceFrame(device.Name, sample.Devices.First(d => d.Name == device.Name).Alive, cpuPercent, memoryMb, link?.BandwidthMbps ?? double.NaN));
            }
            samples++;
            var recent = servedList.Skip(Math.Max(0, servedList.Count - 20)).Select(s => Dilation.ReportMs(s.LatencyMs)).ToList();
            report(Frame(plan, frames, "running") with
            {
                RollingP50Ms = recent.Count > 0 ? LatencySummary.Of(recent).P50Ms : double.NaN,
                Completed = servedList.Count,
                Failed = Volatile.Read(ref _failed),
                Repartitions = Math.Max(0, coordinator.Switches.Count - 1),
            });
        }
        await Task.WhenAll(workers);
        await player;
        while (_served.TryDequeue(out var s))
        {
            servedList.Add(s);
            foreach (var hop in s.Hops.Where(h => busyMs.ContainsKey(h.Device)))
            {
                busyMs[hop.Device] += hop.ComputeMs;
            }
        }
        var tally = camera is null ? null : await camera;
        // An open-loop camera runs for the duration; frames answered after it still count, over the camera's time.
        var elapsed = tally is null ? Dilation.Report(_clock.Elapsed) : Dilation.Report(tally.Elapsed);

        // Energy on the emulated clock: each unit's active power above idle x its (undilated) busy time, plus the wire.
        var activeEnergyJ = devices.Sum(d => EnergyModel.ComputeJ(new DevicePowerModel(d.Unit.IdlePowerW, d.Unit.ActivePowerW, 0, 0), Dilation.ReportMs(busyMs[d.Name])));
        var reference = conditions.StateOf(conditions.At(TimeSpan.Zero), model.Profile);
        var perVersion = new Dictionary<long, double>();
        var transferEnergyJ = 0.0;
        foreach (var s in servedList)
        {
            if (!perVersion.TryGetValue(s.Version, out var joules))
            {
                joules = _plans.TryGetValue(s.Version, out var p) ? TransferJoules(reference, p) : 0;
                perVersion[s.Version] = joules;
            }
            transferEnergyJ += joules;
        }
        var switches = coordinator.Switches.Skip(1).ToList();
        Placements = [.. servedList
            .GroupBy(s => _plans.TryGetValue(s.Version, out var p) ? p.Signature() : $"v{s.Version}")
            .Select(g => (g.Key, g.Count() / (double)servedList.Count))
            .OrderByDescending(g => g.Item2)];
        var latencies = servedList.Select(s => Dilation.ReportMs(s.LatencyMs)).ToList();
        var summary = latencies.Count > 0 ? LatencySummary.Of(latencies) : new LatencySummary(double.NaN, double.NaN, double.NaN);
        var decisions = source.DecisionMs;
        var decisionMs = coordinator.Adaptation is { } adaptation ? adaptation.MeanDecisionMs : decisions.Count > 0 ? decisions.Average() : 0;
        return new StrategyResult(
            model.Name,
            strategy,
            summary.P50Ms,
            summary.P95Ms,
            summary.P99Ms,
            servedList.Count / elapsed.TotalSeconds,
            servedList.Count > 0 ? (activeEnergyJ + transferEnergyJ) / servedList.Count : double.NaN,
            EnergyEstimated: true,
            Failed: Volatile.Read(ref _failed),
            Repartitions: switches.Count,
            DecisionMs: double.IsFinite(decisionMs) ? decisionMs : 0,
            SwitchMs: switches.Count > 0 ? switches.Average(s => Dilation.ReportMs(s.Duration.TotalMilliseconds)) : 0,
            Requests: Volatile.Read(ref _sent),
            [.. devices.Select(d => new DeviceUsage(d.Name, cpuSums[d.Name] / Math.Max(1, samples), memorySums[d.Name] / Math.Max(1, samples)))],
            [.. servedList.Select(s => new LatencySample(Dilation.Report(s.SentAt).TotalSeconds, Dilation.ReportMs(s.LatencyMs)))])
        {
            Frames = tally is null || experiment.Workload is not { } w ? null : new FrameFigures(w.Fps, w.Deadline.TotalMilliseconds, w.MaxInFlight,
                tally.Captured, tally.Late, tally.Dropped, tally.Failed, tally.MissPercent, tally.Answered / elapsed.TotalSeconds),
            FailureReasons = [.. _failures.OrderByDescending(f => f.Value).Select(f => (f.Key, f.Value))],
        };
    }

    /// <summary>
    /// Open loop: a camera captures frames at the workload's rate (on the host's clock, so dilated like every other
    /// time) and sends each admitted one; a frame's latency runs from its capture, queueing included.
    /// </summary>
    private async Task<FrameTally> CameraAsync(CoordinatorHost coordinator, FrameWorkload hostWorkload, TimeSpan duration, CancellationToken ct)
    {
        var answers = new ConcurrentDictionary<long, InferResult>();
        var source = new FrameSource(hostWorkload, TimeProvider.System);
        return await source.RunAsync(
            async (frame, token) =>
            {
                Interlocked.Increment(ref _sent);
                answers[frame] = await coordinator.InferAsync(model.Inputs, token);
            },
            duration,
            outcome =>
            {
                switch (outcome.Fate)
                {
                    case FrameFate.OnTime or FrameFate.Late when answers.TryRemove(outcome.Index, out var result):
                        Remember(result.Plan);
                        _served.Enqueue(new Served(outcome.CapturedAt, outcome.LatencyMs, result.PlanVersion, result.Hops));
                        break;
                    case FrameFate.Dropped:
                        Interlocked.Increment(ref _sent);
                        break;
                    case FrameFate.Failed:
                        Fail(outcome.Error ?? "unknown error");
                        break;
                }
            },
            ct);
    }

    private void Fail(string reason)
    {
        Interlocked.Increment(ref _failed);
        _failures.AddOrUpdate(Shorten(reason), 1, (_, n) => n + 1);
    }

    /// <summary>A failure's reason without request ids, so that the same cause counts once.</summary>
    private static string Shorten(string reason)
    {
        var text = System.Text.RegularExpressions.Regex.Replace(reason, "[0-9a-f]{32}(#[0-9a-z]+)?", "<id>");
        return text.Length <= 200 ? text : text[..200] + "...";
    }

    /// <summary>Closed loop: one request at a time per worker, each with a deadline; a miss or an error counts as failed.</summary>
    private async Task LoadAsync(CoordinatorHost coordinator, TimeSpan duration, CancellationToken ct)
    {
        while (Now < duration && !ct.IsCancellationRequested)
        {
            var sentAt = Now;
            Interlocked.Increment(ref _sent);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(Dilation.Stretch(experiment.Deadline));
            try
            {
                var result = await coordinator.InferAsync(model.Inputs, deadline.Token);
                // A plan that served only between two samples of the live view is still known by its version.
                Remember(result.Plan);
                _served.Enqueue(new Served(sentAt, (Now - sentAt).TotalMilliseconds, result.PlanVersion, result.Hops));
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                Fail(deadline.IsCancellationRequested ? $"not answered within {experiment.Deadline.TotalSeconds:0.###} s" : ex.Message);
                // Back off a little so a dead cluster does not spin the loop.
                await Task.Delay(Dilation.Stretch(TimeSpan.FromMilliseconds(50)), ct);
            }
        }
    }

    private static bool IsServedAdaptively(Strategy strategy) => strategy is Strategy.Greedy or Strategy.Optimal or Strategy.Rl or Strategy.Oracle or Strategy.Tiles;

    private void Remember(Plan? plan)
    {
        if (plan is not null) _plans.TryAdd(plan.Version, plan);
    }

    private LiveFrame Frame(Plan? plan, IReadOnlyList<DeviceFrame> devices, string phase) => new(
        model.Name, strategy, runIndex, runCount, Dilation.Report(Now).TotalSeconds, experiment.RunDuration.TotalSeconds, devices,
        plan is null ? [] : [.. plan.Stages.Select(s => new StageFrame(s.Device, s.FirstNode, s.LastNode))],
        model.Profile.NodeCount, double.NaN, 0, 0, 0, phase);

    /// <summary>Joules one request spends on the wire under <paramref name="plan"/>: bytes x (send + receive J/B) per hop.</summary>
    private static double TransferJoules(PlanningState state, Plan plan)
    {
        var estimate = new CostModel(correctionEnabled: false).Estimate(state, plan);
        return EnergyModel.RequestJ(state, plan, [], [.. estimate.Hops.Select(h => new HopObservation(h.From, h.To, h.Bytes, h.Ms))]);
    }

    private static void Quiet(ILoggingBuilder logging) => logging.ClearProviders();
}
