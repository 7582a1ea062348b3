using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Reports;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Testbed.Config;
using EdgeSplit.Zoo;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Evaluation;

/// <summary>
/// Runs an <see cref="Experiment"/> for real: for every model and strategy it starts one agent per testbed
/// device, a coordinator with that strategy's plan source, drives a bounded closed-loop client with
/// per-request deadlines, plays the scenario on the same clock and samples every device. Devices are
/// emulated in this process on loopback: each agent stretches its compute by its profile's slowdown and
/// paces and delays what it sends by its link's bandwidth and latency (<see cref="EmulatedLinks"/>).
/// Energy is the profiles' power models applied to measured busy time and bytes moved: estimated.
/// </summary>
public sealed class ExperimentRunner(Experiment experiment, IProgress<LiveFrame>? progress = null)
{
    /// <summary>How devices are brought up, for the report.</summary>
    public const string DeviceMode =
        "devices emulated in this process on loopback (no network namespaces): each agent stretches its ONNX Runtime compute by its " +
        "profile's CPU slowdown (and by scenario CPU load) and delays and paces what it sends by its link's latency and bandwidth";

    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    public Experiment Experiment { get; } = experiment;

    public async Task<BenchReport> RunAsync(CancellationToken ct = default)
    {
        var conditions = new EmulatedConditions(Experiment.Testbed, Experiment.Scenario, Experiment.TimeScale);
        var objective = Planning.Objective.Parse(Experiment.Objective);
        var results = new List<StrategyResult>();
        var notes = new List<string>();
        var placements = new Dictionary<(string Model, Strategy Strategy), IReadOnlyList<(string Placement, double Share)>>();
        var runCount = Experiment.Models.Count * Experiment.Strategies.Count;
        var runIndex = 0;
        foreach (var modelName in Experiment.Models)
        {
            Report(new LiveFrame(modelName, Experiment.Strategies[0], runIndex, runCount, 0, Experiment.RunDuration.TotalSeconds, [], [], 0, double.NaN, 0, 0, 0, "profiling the model on this host"));
            var model = await Task.Run(() => PreparedModel.Prepare(modelName, Experiment.Seed), ct);
            foreach (var strategy in Experiment.Strategies)
            {
                ct.ThrowIfCancellationRequested();
                var run = new StrategyRun(this, model, strategy, conditions, objective, runIndex, runCount);
                results.Add(await run.RunAsync(ct));
                notes.AddRange(run.Notes);
                placements[(model.Name, strategy)] = run.Placements;
                runIndex++;
            }
        }
        var scale = Experiment.TimeScale;
        var closing = new List<string>
        {
            $"All figures are measured on emulated devices ({DeviceMode}) on a shared host of {Environment.ProcessorCount} cores; energy is estimated " +
            "from the device profiles' power models (active power above idle x measured busy time, plus joules per byte sent and received), not metered.",
            "greedy, optimal, rl and oracle are served by the coordinator's adaptive loop: agents' metrics every 0.5 s (the scenario's CPU load reported as " +
            "emulated utilisation, links estimated from the traffic the agents pace), the cost model corrected from every request, the adaptation policy's " +
            "hysteresis and dwell (dwell scaled with the timeline); rl learns from every request; the oracle plans on the true conditions of each scenario window. " +
            "static (the optimal plan for the start conditions) and single (the whole model on the device the cost model finds fastest) keep their plan and " +
            "re-plan only when one of its devices dies.",
        };
        if (Math.Abs(scale - 1) > 1e-9)
        {
            closing.Add($"The scenario's timeline is compressed to {scale:0.###}x ({Experiment.Scenario.Duration.TotalSeconds:0.#} s played in {Experiment.RunDuration.TotalSeconds:0.#} s per strategy); event times in the plots are on the compressed clock.");
        }
        foreach (var ((modelName, strategy), shares) in placements)
        {
            closing.Add($"{modelName}/{strategy.Name()} served its requests with {shares.Count} placement(s): " +
                string.Join("; ", shares.Take(4).Select(p => $"{p.Placement} {p.Share:P0}")) + (shares.Count > 4 ? "; ..." : "") + ".");
        }
        if (Experiment.BelievedSpeeds.Count > 0)
        {
            closing.Add("Miscalibrated on purpose: the adaptive planners were told relative CPU speeds " +
                string.Join(", ", Experiment.BelievedSpeeds.Select(b => $"{b.Key} {b.Value:0.###} (profile: {Experiment.Testbed.Device(b.Key).Profile.RelativeCpuSpeed:0.###})")) +
                ", while the devices ran at their profiles' speeds.");
        }
        if (!Experiment.CostCorrection)
        {
            closing.Add("The cost model's online correction was off: planners did not learn device or link factors from observed times.");
        }
        closing.AddRange(Explain(results, placements));
        closing.AddRange(notes.Distinct());
        return new BenchReport(
            Experiment.Title,
            Experiment.Testbed.Name,
            Experiment.Scenario.Name,
            Experiment.Objective,
            Emulated: true,
            Host: $"{Environment.ProcessorCount} cores shared with other jobs; {DeviceMode}",
            results,
            conditions.ReportEvents(),
            VerdictCriteria.Default,
            string.Join("\n\n", closing));
    }

    internal void Report(LiveFrame frame) => progress?.Report(frame);

    /// <summary>Says plainly why a criterion falls short, from what the strategies actually did.</summary>
    private static IEnumerable<string> Explain(IReadOnlyList<StrategyResult> results, Dictionary<(string Model, Strategy Strategy), IReadOnlyList<(string Placement, double Share)>> placements)
    {
        foreach (var verdict in Verdict.Evaluate(results, VerdictCriteria.Default))
        {
            if (verdict.BestAdaptive is not { } best) continue;
            if (verdict.Static is { } baseline && best.ThroughputPerS < 0.8 * baseline.ThroughputPerS)
            {
                // With a closed-loop client, a strategy whose slow requests hold workers leaves the others less queueing:
                // its median looks better while it serves far less.
                yield return $"Caution for {verdict.Model}: the best adaptive strategy by p50 ({best.Strategy.Name()}) served {best.ThroughputPerS:0.0}/s against static's " +
                    $"{baseline.ThroughputPerS:0.0}/s with p95 {best.P95Ms:0} ms vs {baseline.P95Ms:0} ms; under the closed-loop client its slow requests hold workers, " +
                    "so the others queue less and its median flatters it. Read its p50 ratio with that in mind.";
            }
            if (verdict.AllPass) continue;
            var failing = string.Join(", ", verdict.Outcomes.Where(o => o.Outcome != Outcome.Pass).Select(o => $"{o.Criterion} ({o.OutcomeText.ToLowerInvariant()})"));
            var text = $"Why {verdict.Model} falls short ({failing}): ";
            var staticTop = placements.GetValueOrDefault((verdict.Model, Strategy.Static))?.FirstOrDefault();
            var oracleShares = placements.GetValueOrDefault((verdict.Model, Strategy.Oracle));
            if (staticTop is { } top && oracleShares is not null)
            {
                var oracleSame = oracleShares.Where(p => p.Placement == top.Placement).Sum(p => p.Share);
                text += $"the oracle (the cost model's best plan for each window's true conditions) served {oracleSame:P0} of its requests with static's placement {top.Placement}, " +
                    "so in this testbed and scenario even perfect adaptation has little to gain over static, and the gaps between static, optimal and oracle are mostly run-to-run noise " +
                    "of a shared host (the same placement measured in different runs). ";
            }
            else
            {
                text += "no oracle or static run to compare placements with. ";
            }
            if (best.Strategy == Strategy.Rl)
            {
                text += $"rl explored {best.Repartitions} re-partitions; its exploration of poor plans shows in its tail (p99 {best.P99Ms:0} ms). ";
            }
            text += "The scenario was not tuned to the planners.";
            yield return text;
        }
    }

    /// <summary>A model loaded, profiled on this host and ready to serve.</summary>
    internal sealed record PreparedModel(string Name, OnnxModel Onnx, SegmentProfile Profile, ServedModel Served, IReadOnlyList<WireTensor> Inputs)
    {
        public static PreparedModel Prepare(string nameOrPath, int seed)
        {
            OnnxModel onnx;
            if (File.Exists(nameOrPath))
            {
                onnx = OnnxModel.Load(nameOrPath);
            }
            else if (ModelZoo.BuiltNames.Contains(nameOrPath))
            {
                onnx = OnnxModel.FromProto(ModelZoo.Build(nameOrPath), nameOrPath);
            }
            else if (nameOrPath == ModelZoo.PretrainedResNet18 && File.Exists(ModelZoo.PretrainedResNet18Path))
            {
                onnx = OnnxModel.Load(ModelZoo.PretrainedResNet18Path);
            }
            else
            {
                throw new BadInputException($"model '{nameOrPath}' is neither an ONNX file nor a zoo model; use a path or one of {string.Join(", ", ModelZoo.BuiltNames)}");
            }
            var measured = ModelProfiling.Measure(onnx, options: new ProfilerOptions(WarmupRuns: 1, TimedRuns: 3, ProfiledRuns: 1), seed: seed);
            var (profile, timing, data) = (measured.Profile, measured.Timing, measured.Inputs);
            var name = File.Exists(nameOrPath) ? Path.GetFileNameWithoutExtension(nameOrPath) : nameOrPath;
            var served = OnnxServing.Create(onnx, name, timing.NodeMs);
            var inputs = data.Select(t => new WireTensor(t.Name, t.ElementType, t.Shape, t.Data)).ToList();
            return new PreparedModel(name, onnx, profile, served, inputs);
        }
    }

    /// <summary>One strategy on one model: its own agents, coordinator and client, torn down at the end.</summary>
    private sealed class StrategyRun(ExperimentRunner runner, PreparedModel model, Strategy strategy, EmulatedConditions conditions, Objective objective, int runIndex, int runCount)
    {
        private readonly Experiment _experiment = runner.Experiment;
        private readonly Dictionary<string, AgentHost> _agents = new(StringComparer.Ordinal);
        private readonly List<AgentHost> _everyAgent = [];
        private readonly Dictionary<string, string> _addresses = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _linkFiles = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<(double TSeconds, double LatencyMs, long Version)> _served = new();
        private readonly ConcurrentDictionary<long, Plan> _plans = new();
        private readonly Stopwatch _clock = new();
        private int _failed;
        private int _sent;

        public List<string> Notes { get; } = [];

        /// <summary>Each placement that served requests, with its share of them, most used first.</summary>
        public IReadOnlyList<(string Placement, double Share)> Placements { get; private set; } = [];

        private TimeSpan Now => _clock.Elapsed;

        public async Task<StrategyResult> RunAsync(CancellationToken ct)
        {
            var work = Directory.CreateTempSubdirectory("edgesplit-bench-");
            CoordinatorHost? coordinator = null;
            try
            {
                var start = conditions.At(TimeSpan.Zero);
                foreach (var device in _experiment.Testbed.Devices)
                {
                    _linkFiles[device.Name] = Path.Combine(work.FullName, $"{device.Name}.links.json");
                    EmulatedLinks.Write(_linkFiles[device.Name], conditions.LinksFileFor(start, device.Name));
                    var agent = await AgentHost.StartAsync(AgentOptionsFor(device, work.FullName, "127.0.0.1:0"), ct);
                    _agents[device.Name] = agent;
                    _everyAgent.Add(agent);
                    _addresses[device.Name] = agent.Address;
                    EmulateLoad(agent, start, device.Name);
                }
                var source = new StrategyPlanSource(strategy, () => conditions.StateOf(conditions.At(Now), model.Profile), objective,
                    conditions.Windows(model.Profile), conditions.TimeScale, _experiment.Seed);
                var options = new CoordinatorOptions
                {
                    SourceDevice = _experiment.Testbed.Source,
                    AttemptTimeout = _experiment.Deadline / 2,
                    MaxAttempts = 2,
                    HealthInterval = TimeSpan.FromMilliseconds(250),
                    ProbeTimeout = TimeSpan.FromMilliseconds(500),
                    ConfigureLogging = Quiet,
                    Dashboard = _experiment.Dashboard,
                };
                runner.Report(Frame(null, [], "deploying the first plan"));
                var endpoints = _addresses.Select(a => new AgentEndpoint(a.Key, a.Value)).ToList();
                if (IsServedAdaptively(strategy))
                {
                    // The coordinator's own adaptive loop: it plans from the agents' measured metrics and link
                    // estimates, and learns from every request; the runner only plays the scenario and measures.
                    var nominal = conditions.StateOf(start, model.Profile);
                    var believed = nominal.Devices.Select(d => _experiment.BelievedSpeeds.TryGetValue(d.Name, out var speed)
                        ? d with { RelativeSpeed = speed / conditions.HostRelativeSpeed }
                        : d);
                    var adaptive = new AdaptiveOptions(strategy.Name(), objective, believed.ToDictionary(d => d.Name),
                        CostCorrection: _experiment.CostCorrection, RlPolicyFile: null,
                        Adaptation: AdaptationOptions.Default with { MinDwell = AdaptationOptions.Default.MinDwell * conditions.TimeScale })
                    {
                        MetricsInterval = TimeSpan.FromMilliseconds(500),
                        Links = nominal.Links,
                        OracleTruth = strategy == Strategy.Oracle ? conditions.Windows(model.Profile) : null,
                        Clock = () => Now,
                        Rl = new RlOptions(Seed: _experiment.Seed),
                    };
                    coordinator = await CoordinatorHost.StartAsync(model.Served with { Profile = model.Profile }, endpoints, adaptive, options, ct);
                }
                else
                {
                    coordinator = await CoordinatorHost.StartAsync(model.Served, endpoints, source, options, null, ct);
                }
                Remember(coordinator.CurrentPlan);
                runner.Report(Frame(coordinator.CurrentPlan, [], "warming up (not counted)"));
                await WarmUpAsync(coordinator, ct);
                return await DriveAsync(coordinator, source, ct);
            }
            finally
            {
                if (coordinator is not null)
                {
                    await Quietly(() => coordinator.DisposeAsync().AsTask());
                }
                foreach (var agent in _everyAgent)
                {
                    await Quietly(() => agent.DisposeAsync().AsTask());
                }
                try
                {
                    work.Delete(recursive: true);
                }
                catch (IOException)
                {
                    // A cache file still held open: the temp folder is cleaned by the OS, the report does not depend on it.
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
            for (var i = 0; i < 8 && until.Elapsed < TimeSpan.FromSeconds(3); i++)
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(_experiment.Deadline);
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
            var duration = _experiment.RunDuration;
            _clock.Restart();
            var workers = Enumerable.Range(0, Math.Max(1, _experiment.Concurrency)).Select(_ => Task.Run(() => LoadAsync(coordinator, duration, ct), ct)).ToList();
            var player = Task.Run(() => PlayAsync(duration, ct), ct);

            // Busy time so far (the warm-up) is not the run's.
            var busy = _experiment.Testbed.Devices.ToDictionary(d => d.Name, d => _agents[d.Name].ComputeTime);
            var cpuSums = _experiment.Testbed.Devices.ToDictionary(d => d.Name, _ => 0.0);
            var memorySums = _experiment.Testbed.Devices.ToDictionary(d => d.Name, _ => 0.0);
            var samples = 0;
            var activeEnergyJ = 0.0;
            var lastTick = TimeSpan.Zero;
            var servedList = new List<(double TSeconds, double LatencyMs, long Version)>();

            while (Now < duration)
            {
                await Task.Delay(Tick, ct);
                var now = Now;
                var interval = (now - lastTick).TotalSeconds;
                lastTick = now;
                while (_served.TryDequeue(out var s)) servedList.Add(s);
                var snapshot = conditions.At(now);
                var plan = coordinator.CurrentPlan;
                Remember(plan);
                var frames = new List<DeviceFrame>();
                foreach (var device in _experiment.Testbed.Devices)
                {
                    var agent = _agents[device.Name];
                    var total = agent.ComputeTime;
                    // A revived agent starts its count from zero.
                    var delta = total >= busy[device.Name] ? total - busy[device.Name] : total;
                    busy[device.Name] = total;
                    var cpuPercent = interval > 0 ? Math.Min(100, delta.TotalSeconds / interval * 100) : 0;
                    activeEnergyJ += EnergyModel.ComputeJ(new DevicePowerModel(device.Profile.IdlePowerW, device.Profile.PeakPowerW, 0, 0), delta.TotalMilliseconds);
                    var memoryMb = plan is null ? 0 : plan.Stages.Where(s => s.Device == device.Name)
                        .Sum(s => model.Profile.NodeMemoryBytes.Skip(s.FirstNode).Take(s.LastNode - s.FirstNode + 1).Sum()) / (1024.0 * 1024.0);
                    cpuSums[device.Name] += cpuPercent;
                    memorySums[device.Name] += memoryMb;
                    var alive = snapshot.Devices.First(d => d.Name == device.Name).Alive;
                    var link = snapshot.Links.FirstOrDefault(l => (l.A == _experiment.Testbed.Source && l.B == device.Name) || (l.B == _experiment.Testbed.Source && l.A == device.Name));
                    frames.Add(new DeviceFrame(device.Name, alive, cpuPercent, memoryMb, link?.BandwidthMbps ?? double.NaN));
                }
                samples++;

                var recent = servedList.Skip(Math.Max(0, servedList.Count - 20)).Select(s => s.LatencyMs).ToList();
                runner.Report(Frame(coordinator.CurrentPlan, frames, "running") with
                {
                    ElapsedS = now.TotalSeconds,
                    RollingP50Ms = recent.Count > 0 ? LatencySummary.Of(recent).P50Ms : double.NaN,
                    Completed = servedList.Count,
                    Failed = Volatile.Read(ref _failed),
                    Repartitions = Math.Max(0, coordinator.Switches.Count - 1),
                });
            }
            await Task.WhenAll(workers);
            await player;
            while (_served.TryDequeue(out var s)) servedList.Add(s);
            var elapsed = _clock.Elapsed;

            var transferEnergyJ = 0.0;
            var reference = conditions.StateOf(conditions.At(TimeSpan.Zero), model.Profile);
            var perVersion = new Dictionary<long, double>();
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
            var latencies = servedList.Select(s => s.LatencyMs).ToList();
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
                SwitchMs: switches.Count > 0 ? switches.Average(s => s.Duration.TotalMilliseconds) : 0,
                Requests: Volatile.Read(ref _sent),
                [.. _experiment.Testbed.Devices.Select(d => new DeviceUsage(d.Name, cpuSums[d.Name] / Math.Max(1, samples), memorySums[d.Name] / Math.Max(1, samples)))],
                [.. servedList.Select(s => new LatencySample(s.TSeconds, s.LatencyMs))]);
        }

        /// <summary>Closed loop: one request at a time per worker, each with a deadline; a miss or an error counts as failed.</summary>
        private async Task LoadAsync(CoordinatorHost coordinator, TimeSpan duration, CancellationToken ct)
        {
            while (Now < duration && !ct.IsCancellationRequested)
            {
                var sentAt = Now;
                Interlocked.Increment(ref _sent);
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(_experiment.Deadline);
                try
                {
                    var result = await coordinator.InferAsync(model.Inputs, deadline.Token);
                    // A plan that served only between two samples of the live view is still known by its version.
                    Remember(result.Plan);
                    _served.Enqueue((sentAt.TotalSeconds, (Now - sentAt).TotalMilliseconds, result.PlanVersion));
                }
                catch (Exception) when (!ct.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _failed);
                    // Back off a little so a dead cluster does not spin the loop.
                    await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
                }
            }
        }

        /// <summary>Plays the scenario on the run's clock: rewrites link files at every change, kills and revives agents.</summary>
        private async Task PlayAsync(TimeSpan duration, CancellationToken ct)
        {
            var points = conditions.ChangePoints().Where(p => p > TimeSpan.Zero && p < duration).ToList();
            var deaths = _experiment.Scenario.Events.Where(e => e is KillDeviceEvent or ReviveDeviceEvent).ToList();
            foreach (var point in points)
            {
                var wait = point - Now;
                if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
                var snapshot = conditions.At(point);
                foreach (var device in _experiment.Testbed.Devices)
                {
                    EmulatedLinks.Write(_linkFiles[device.Name], conditions.LinksFileFor(snapshot, device.Name));
                    EmulateLoad(_agents[device.Name], snapshot, device.Name);
                }
                foreach (var e in deaths.Where(e => conditions.RunTimeOf(e.At) == point))
                {
                    switch (e)
                    {
                        case KillDeviceEvent k:
                            await Quietly(_agents[k.Device].KillAsync);
                            break;
                        case ReviveDeviceEvent r:
                            try
                            {
                                var device = _experiment.Testbed.Device(r.Device);
                                var agent = await AgentHost.StartAsync(AgentOptionsFor(device, Path.GetDirectoryName(_linkFiles[r.Device])!, _addresses[r.Device]), ct);
                                _agents[r.Device] = agent;
                                _everyAgent.Add(agent);
                                EmulateLoad(agent, snapshot, r.Device);
                            }
                            catch (IOException ex)
                            {
                                Notes.Add($"{model.Name}/{strategy.Name()}: {r.Device} could not be revived on {_addresses[r.Device]}: {ex.Message}");
                            }
                            break;
                    }
                }
            }
        }

        private AgentOptions AgentOptionsFor(TestbedDevice device, string work, string listen) => new(device.Name, listen)
        {
            CacheDirectory = Path.Combine(work, "cache", device.Name),
            Emulation = EmulatedLinks.Open(_linkFiles[device.Name]),
            Monitoring = new ResourceMonitorOptions { PowerModel = device.Profile.ToPowerModel() },
            ConfigureLogging = Quiet,
        };

        /// <summary>
        /// In-process agents share this host's CPU counters, so each reports the scenario's load on its device
        /// instead (what a load generator on a real board would show), not the other tenants of this host.
        /// </summary>
        private static void EmulateLoad(AgentHost agent, Snapshot snapshot, string device) =>
            agent.CpuUtilisationOverride = 1 - snapshot.Devices.First(d => d.Name == device).CpuAvailability;

        private static bool IsServedAdaptively(Strategy strategy) => strategy is Strategy.Greedy or Strategy.Optimal or Strategy.Rl or Strategy.Oracle;

        private void Remember(Plan? plan)
        {
            if (plan is not null) _plans.TryAdd(plan.Version, plan);
        }

        private LiveFrame Frame(Plan? plan, IReadOnlyList<DeviceFrame> devices, string phase) => new(
            model.Name, strategy, runIndex, runCount, Now.TotalSeconds, _experiment.RunDuration.TotalSeconds, devices,
            plan is null ? [] : [.. plan.Stages.Select(s => new StageFrame(s.Device, s.FirstNode, s.LastNode))],
            model.Profile.NodeCount, double.NaN, 0, 0, 0, phase);

        /// <summary>Joules one request spends on the wire under <paramref name="plan"/>: bytes x (send + receive J/B) per hop.</summary>
        private static double TransferJoules(PlanningState state, Plan plan)
        {
            var estimate = new CostModel(correctionEnabled: false).Estimate(state, plan);
            return EnergyModel.RequestJ(state, plan, [], [.. estimate.Hops.Select(h => new HopObservation(h.From, h.To, h.Bytes, h.Ms))]);
        }

        private static void Quiet(ILoggingBuilder logging) => logging.ClearProviders();

        private static async Task Quietly(Func<Task> action)
        {
            try
            {
                await action();
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException or Grpc.Core.RpcException)
            {
                // Teardown of something already stopped (a killed agent): nothing left to release.
            }
        }
    }
}
