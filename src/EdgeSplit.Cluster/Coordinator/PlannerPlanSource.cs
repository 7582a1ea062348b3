using System.Diagnostics;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>Builds the planners' view of a model once, at start.</summary>
public static class AdaptivePlanning
{
    /// <summary>
    /// Times the whole model on this host with ONNX Runtime (node times of the reference device,
    /// relative speed 1) and measures every cut's bytes on random inputs of the model's shapes.
    /// </summary>
    public static SegmentProfile MeasureProfile(OnnxModel model, string? inputShapes = null, ProfilerOptions? options = null)
    {
        var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, inputShapes), seed: 1);
        var cuts = CutProfiler.Measure(model, inputs, 1, out var facts);
        var timing = Profiler.Measure(model, [], inputs, "this-host", options ?? new ProfilerOptions(WarmupRuns: 1, TimedRuns: 5, ProfiledRuns: 2), CutProfiler.ElementTypes(facts));
        return Profiler.BuildSegmentProfile(model, timing, cuts, facts);
    }

    /// <summary>A profile from node costs alone (no memory or cut sizes known): a fallback when none was measured.</summary>
    public static SegmentProfile FromNodeCosts(IReadOnlyList<double> nodeCostsMs, int nodeCount)
    {
        var costs = nodeCostsMs.Count == nodeCount ? nodeCostsMs : Enumerable.Repeat(1.0, nodeCount).ToList();
        return new SegmentProfile([.. costs], new long[nodeCount], new long[Math.Max(0, nodeCount - 1)], 0, 0).Validate();
    }
}

/// <summary>What the coordinator knows about one agent at one moment, for building a planning state.</summary>
internal sealed record AgentSnapshot(string Name, string Address, bool Alive, long PingMemoryBytes, DeviceSample? Latest);

/// <summary>What a served request measured, in route order, for the cost model's correction and rl.</summary>
internal sealed record ServedObservation(Plan Plan, double LatencyMs, IReadOnlyList<double> StageComputeMs, IReadOnlyList<HopObservation> Hops);

/// <summary>
/// The adaptive <see cref="IPlanSource"/>: builds a <see cref="PlanningState"/> from the
/// coordinator's live view (per device CPU availability from utilisation minus EdgeSplit's own
/// share, free memory; per link the agents' passive bandwidth and RTT estimates, falling back to
/// configured or default figures before any traffic), asks the named planner through
/// <see cref="AdaptationPolicy"/> (or, for <c>rl</c>, directly per request window), feeds the cost
/// model's online correction with every served request, and keeps the decision log.
/// </summary>
public sealed class PlannerPlanSource : IPlanSource, IDisposable
{
    private static readonly DevicePowerModel DefaultPower = new(2.7, 6.4, 5e-9, 5e-9);
    private readonly Lock _gate = new();
    private readonly SegmentProfile _profile;
    private ILogger _logger;
    private readonly IPlanner _planner;
    private readonly AdaptationPolicy? _policy;
    private readonly RlPlanner? _rl;
    private readonly Queue<DecisionRecord> _recent = new();
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Dictionary<string, (DateTimeOffset Time, double Value)> _smoothedCpu = new(StringComparer.Ordinal);
    private Func<IReadOnlyList<AgentSnapshot>>? _view;
    private string _source = "";
    private PlanningState? _lastState;
    private PlanningState? _rlState;
    private Plan? _rlPlan;
    private int _rlServed;
    private int _rlWindow = 1;
    private long _decisions, _switches, _observed;
    private double _lastDecisionMs, _totalDecisionMs;
    private int _disposed;

    private PlannerPlanSource(AdaptiveOptions options, SegmentProfile profile, ILogger? logger)
    {
        Options = options;
        _profile = profile.Validate();
        _logger = logger ?? NullLogger.Instance;
        CostModel = new CostModel(options.CostCorrection);
        var registry = new PlannerRegistry(CostModel);
        _planner = registry.Create(options.Planner, options.OracleTruth, options.Rl);
        if (_planner is RlPlanner rl)
        {
            _rl = rl;
            if (options.RlPolicyFile is { } file && File.Exists(file))
            {
                rl.Load(file);
                _logger.LogInformation("rl: loaded policy {File} ({Requests} requests learned)", file, rl.LearnedRequests);
            }
        }
        else
        {
            _policy = new AdaptationPolicy(_planner, CostModel, options.Objective, options.EffectiveAdaptation);
        }
    }

    /// <summary>An adaptive plan source for a model whose planner profile is <paramref name="profile"/>.</summary>
    public static PlannerPlanSource Create(AdaptiveOptions options, SegmentProfile profile, ILogger? logger = null) => new(options, profile, logger);

    public AdaptiveOptions Options { get; }

    /// <summary>The cost model shared by the planner and the policy (its factors are the online correction).</summary>
    public CostModel CostModel { get; }

    public IPlanner Planner => _planner;

    /// <summary>The latest state the source planned from (null before the first decision).</summary>
    public PlanningState? LastState
    {
        get { lock (_gate) return _lastState; }
    }

    /// <summary>Connects the source to the coordinator's live view (called once by the coordinator).</summary>
    internal void Attach(string sourceDevice, Func<IReadOnlyList<AgentSnapshot>> view, ILogger logger)
    {
        if (_logger == NullLogger.Instance)
        {
            _logger = logger;
        }
        _source = sourceDevice;
        _view = view;
    }

    /// <summary>At start and when a device of the plan died: a plan over the live devices.</summary>
    public Plan Propose(PlanRequest request)
    {
        if (request.LiveDevices.Count == 0)
        {
            throw new NoPlanFitsException("no agent is reachable; start agents or check --agents");
        }
        if (_source.Length == 0)
        {
            _source = request.SourceDevice;
        }
        var state = BuildState(request.LiveDevices);
        if (!state.Devices.Any(d => d.Name == state.SourceDevice))
        {
            // The camera's device is gone: requests enter elsewhere, so plan from the first live device.
            state = state with { SourceDevice = state.Devices[0].Name };
        }
        lock (_gate)
        {
            if (_rl is not null)
            {
                var started = Stopwatch.GetTimestamp();
                var (plan, explored) = _rl.Choose(state, Options.Objective);
                _rlState = state;
                StartRlWindow(plan, explored);
                Log(new DecisionRecord(DateTimeOffset.UtcNow, !plan.SamePlacement(request.Current), request.Reason, "rl choice", request.Current?.Signature(), plan.Signature(),
                    double.NaN, double.NaN, double.NaN, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
                return plan;
            }
            return Decide(state, request.Reason).Plan;
        }
    }

    /// <summary>One monitoring update: returns a plan to switch to, or null to keep the current one.</summary>
    internal Plan? OnTick(Plan? current)
    {
        if (_view is null || current is null || _rl is not null)
        {
            return null;
        }
        var live = _view().Where(a => a.Alive).Select(a => a.Name).ToList();
        if (live.Count == 0 || !live.Contains(_source))
        {
            return null;
        }
        var state = BuildState(live);
        lock (_gate)
        {
            var decision = Decide(state, "metrics update");
            return decision.Switched && !decision.Plan.SamePlacement(current) ? decision.Plan : null;
        }
    }

    private AdaptationDecision Decide(PlanningState state, string trigger)
    {
        var started = Stopwatch.GetTimestamp();
        var decision = _policy!.Decide(state);
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        _lastState = state;
        Log(new DecisionRecord(DateTimeOffset.UtcNow, decision.Switched, decision.Reason.ToString(), $"{trigger}: {decision.Detail}", decision.OldPlan?.Signature(),
            decision.Candidate.Signature(), decision.OldValue, decision.NewValue, decision.PredictedGain, ms));
        return decision;
    }

    private void Log(DecisionRecord record)
    {
        _decisions++;
        _lastDecisionMs = record.DecisionMs;
        _totalDecisionMs += record.DecisionMs;
        _counts[record.Reason] = _counts.GetValueOrDefault(record.Reason) + 1;
        if (record.Switched)
        {
            _switches++;
        }
        _recent.Enqueue(record);
        while (_recent.Count > 64)
        {
            _recent.Dequeue();
        }
        // Quiet decisions (nothing moved) are counted but logged at debug level, so the log stays readable.
        var level = record.Switched || record.Reason is not (nameof(AdaptationReason.ConditionsUnchanged) or nameof(AdaptationReason.SamePlan)) ? LogLevel.Information : LogLevel.Debug;
        _logger.Log(level, "adaptation [{Planner}/{Objective}] {Reason}, switch={Switched}: {Detail}; old {Old} ({OldValue:G4}) new {New} ({NewValue:G4}), predicted gain {Gain:G4}, decided in {Ms:F3} ms",
            _planner.Name, Options.Objective.Kind, record.Reason, record.Switched, record.Detail, record.OldPlan ?? "-", record.OldValue, record.Plan, record.NewValue, record.PredictedGain, record.DecisionMs);
    }

    /// <summary>
    /// After a served request: corrects the cost model, teaches rl, and returns the estimated energy
    /// of the request plus, for rl at the end of a window, a plan to switch to.
    /// </summary>
    internal (double EnergyJ, Plan? Next) OnServed(ServedObservation observed)
    {
        lock (_gate)
        {
            _observed++;
            var state = _rl is not null ? _rlState : _lastState;
            if (state is null || !observed.Plan.RunsOn(state))
            {
                return (double.NaN, null);
            }
            var energy = EstimateEnergyJ(state, observed);
            if (observed.StageComputeMs.Count == observed.Plan.Stages.Count)
            {
                CostModel.Observe(state, observed.Plan, observed.StageComputeMs, observed.Hops);
            }
            if (_rl is null || _rlPlan is null)
            {
                return (energy, null);
            }
            if (!observed.Plan.SamePlacement(_rlPlan))
            {
                // A request of the plan before rl's latest choice (in flight across the switch): it corrects
                // the cost model above but neither teaches rl about the new plan nor counts in its window.
                return (energy, null);
            }
            _rl.Learn(state, observed.Plan, Options.Objective, observed.LatencyMs, energy);
            if (_rlServed == 0 && _rlWindow < Options.RlWindowRequests
                && _rl.IsCompetitive(state, Options.Objective, RlPlanner.Reward(Options.Objective, observed.LatencyMs, energy)))
            {
                // An exploration that came back competitive with the best gets a full window to prove itself.
                _rlWindow = Options.RlWindowRequests;
            }
            if (++_rlServed < Math.Max(1, _rlWindow))
            {
                return (energy, null);
            }
            // The window is over: choose again from the newest conditions.
            return (energy, ChooseAgain(explore: true, $"rl window of {_rlServed} requests"));
        }
    }

    /// <summary>
    /// After an attempt on <paramref name="plan"/> got no answer within the attempt timeout: rl
    /// learns the time it waited as that plan's latency (a lower bound, so the lesson is if anything
    /// too mild) and chooses again at once, without exploring. Waiting for a window of served requests
    /// would wait forever on a plan too slow to serve any, and every request sent to it would fail.
    /// Returns a plan to switch to, or null.
    /// </summary>
    internal Plan? OnTimedOut(Plan plan, double waitedMs)
    {
        lock (_gate)
        {
            if (_rl is null || _rlPlan is null || _rlState is null || !plan.SamePlacement(_rlPlan) || !plan.RunsOn(_rlState))
            {
                // Not rl, or rl has already moved on from this plan (another request timed out first).
                return null;
            }
            _rl.Learn(_rlState, plan, Options.Objective, waitedMs, CostModel.Estimate(_rlState, plan).EnergyJ);
            return ChooseAgain(explore: false, $"no answer within {waitedMs:F0} ms");
        }
    }

    /// <summary>
    /// What the coordinator ended up serving after rl's choices were deployed. Normally rl's own
    /// latest choice; if a switch failed, rl follows the plan that really serves, or it would wait
    /// for requests of a plan that never runs.
    /// </summary>
    internal void OnDeployed(Plan? deployed)
    {
        lock (_gate)
        {
            if (_rl is null || _rlPlan is null || deployed is null || deployed.SamePlacement(_rlPlan))
            {
                return;
            }
            StartRlWindow(deployed, explored: false);
        }
    }

    /// <summary>
    /// Starts counting requests for <paramref name="plan"/>. An exploration is tried on one request
    /// first: a poor arm then costs one request, not a window of them.
    /// </summary>
    private void StartRlWindow(Plan plan, bool explored)
    {
        _rlPlan = plan;
        _rlServed = 0;
        _rlWindow = explored ? 1 : Options.RlWindowRequests;
    }

    /// <summary>rl's next choice from the newest conditions; null when it keeps the current placement.</summary>
    private Plan? ChooseAgain(bool explore, string why)
    {
        if (_view is null || _rl is null || _rlPlan is null)
        {
            return null;
        }
        var live = _view().Where(a => a.Alive).Select(a => a.Name).ToList();
        if (!live.Contains(_source))
        {
            return null;
        }
        var fresh = BuildState(live);
        var started = Stopwatch.GetTimestamp();
        var (next, explored) = explore ? _rl.Choose(fresh, Options.Objective) : (_rl.Exploit(fresh, Options.Objective), false);
        var switched = !next.SamePlacement(_rlPlan);
        Log(new DecisionRecord(DateTimeOffset.UtcNow, switched, switched ? "RlChoice" : "SamePlan", why, _rlPlan.Signature(), next.Signature(),
            double.NaN, double.NaN, double.NaN, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
        _rlState = fresh;
        _lastState = fresh;
        StartRlWindow(next, explored);
        return switched ? next : null;
    }

    /// <summary>Estimated energy of one request: active power x observed compute + J/byte on each hop (an estimate from power models).</summary>
    private static double EstimateEnergyJ(PlanningState state, ServedObservation observed)
    {
        double joules = 0;
        for (var k = 0; k < observed.StageComputeMs.Count && k < observed.Plan.Stages.Count; k++)
        {
            var device = state.Devices.FirstOrDefault(d => d.Name == observed.Plan.Stages[k].Device);
            joules += (device?.Power.ActiveWatts ?? 0) * observed.StageComputeMs[k] / 1000;
        }
        foreach (var hop in observed.Hops)
        {
            var from = state.Devices.FirstOrDefault(d => d.Name == hop.From);
            var to = state.Devices.FirstOrDefault(d => d.Name == hop.To);
            joules += hop.Bytes * ((from?.Power.SendJoulesPerByte ?? 0) + (to?.Power.ReceiveJoulesPerByte ?? 0));
        }
        return joules;
    }

    /// <summary>The planning state of the live devices from the latest metrics.</summary>
    internal PlanningState BuildState(IReadOnlyList<string> liveDevices)
    {
        var agents = _view?.Invoke() ?? [];
        var byName = agents.ToDictionary(a => a.Name, StringComparer.Ordinal);
        var devices = new List<DeviceSpec>();
        foreach (var name in liveDevices)
        {
            var spec = Options.Devices?.GetValueOrDefault(name);
            var agent = byName.GetValueOrDefault(name);
            var sample = agent?.Latest;
            var availability = sample is null ? 1.0 : SmoothedAvailability(name, sample);
            var memory = sample?.MemoryAvailableBytes ?? agent?.PingMemoryBytes ?? 0;
            if (memory <= 0)
            {
                memory = long.MaxValue / 4;
            }
            if (spec is { MemoryBudgetBytes: > 0 })
            {
                memory = Math.Min(memory, spec.MemoryBudgetBytes);
            }
            devices.Add(new DeviceSpec(name, spec?.RelativeSpeed ?? 1.0, Math.Clamp(availability, Options.MinCpuAvailability, 1), memory, spec?.Power ?? DefaultPower));
        }
        var links = new List<LinkSpec>();
        foreach (var from in liveDevices)
        {
            var measured = byName.GetValueOrDefault(from)?.Latest?.Links;
            foreach (var to in liveDevices.Where(d => d != from))
            {
                var address = byName.GetValueOrDefault(to)?.Address;
                var sample = measured?.FirstOrDefault(l => l.Peer == address || l.Peer == to);
                var configured = Options.Links?.FirstOrDefault(l => l.From == from && l.To == to);
                var bandwidth = sample is { BandwidthBytesPerSecond: > 0 } ? sample.BandwidthBytesPerSecond : configured?.BytesPerSecond ?? Options.DefaultBytesPerSecond;
                var rtt = sample is not null && double.IsFinite(sample.RttMs) && sample.RttMs > 0 ? sample.RttMs : configured?.RttMs ?? Options.DefaultRttMs;
                links.Add(new LinkSpec(from, to, bandwidth, rtt));
            }
        }
        var source = liveDevices.Contains(_source) ? _source : liveDevices[0];
        return new PlanningState(devices, links, _profile, source, Options.Clock?.Invoke() ?? _clock.Elapsed).Validate();
    }

    /// <summary>EWMA of a device's CPU availability over its samples, so one noisy sample does not move the plan.</summary>
    private double SmoothedAvailability(string device, DeviceSample sample)
    {
        lock (_smoothedCpu)
        {
            var now = CpuAvailability(sample);
            if (_smoothedCpu.TryGetValue(device, out var old))
            {
                if (old.Time == sample.Time)
                {
                    return old.Value;
                }
                now = old.Value + (Options.CpuSmoothing * (now - old.Value));
            }
            _smoothedCpu[device] = (sample.Time, now);
            return now;
        }
    }

    /// <summary>The share of the device's CPU free for EdgeSplit: 1 - (utilisation - EdgeSplit's own share), so its own work does not chase itself away.</summary>
    internal static double CpuAvailability(DeviceSample sample)
    {
        var others = sample.CpuUtilisation - (double.IsFinite(sample.ProcessCpuUtilisation) ? sample.ProcessCpuUtilisation : 0);
        return 1 - Math.Clamp(double.IsFinite(others) ? others : 0, 0, 1);
    }

    public AdaptationStatus Status()
    {
        lock (_gate)
        {
            var counts = new Dictionary<string, long>(_counts, StringComparer.Ordinal);
            return new AdaptationStatus(_planner.Name, Options.Objective.Kind.ToString().ToLowerInvariant(), CostModel.CorrectionEnabled, counts, _decisions, _switches, [.. _recent],
                _lastDecisionMs, _decisions > 0 ? _totalDecisionMs / _decisions : 0, _observed);
        }
    }

    /// <summary>Saves the rl policy, if one is learned and a file was named.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        if (_rl is not null && Options.RlPolicyFile is { } file)
        {
            lock (_gate)
            {
                _rl.Save(file);
            }
            _logger.LogInformation("rl: saved policy to {File} ({Requests} requests learned)", file, _rl.LearnedRequests);
        }
    }
}
