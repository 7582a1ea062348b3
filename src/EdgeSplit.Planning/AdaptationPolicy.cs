namespace EdgeSplit.Planning;

/// <summary>
/// When to switch plans. <paramref name="SwitchCost"/> is in the objective's unit (ms for latency
/// and throughput, J for energy, ms-equivalent for weighted): what redeploying partitions costs.
/// The predicted gain of a switch is (old - new objective value per request) x
/// <paramref name="WindowRequests"/>. <paramref name="HysteresisFraction"/> is the relative
/// improvement a new plan must offer over the current one, so a state jittering around the point
/// where two plans tie does not flip between them; <paramref name="MinDwell"/> is the least time
/// a plan stays in force (except when it can no longer run). The planner is asked again only when
/// some CPU availability, speed, memory budget, bandwidth or RTT moved by more than
/// <paramref name="ReplanThreshold"/> (relative) since it was last asked, or devices or links came
/// or went; 0 asks it on every update.
/// </summary>
public sealed record AdaptationOptions(double SwitchCost, int WindowRequests, double HysteresisFraction, TimeSpan MinDwell, double ReplanThreshold = 0)
{
    public static AdaptationOptions Default { get; } = new(SwitchCost: 200, WindowRequests: 100, HysteresisFraction: 0.1, MinDwell: TimeSpan.FromSeconds(10), ReplanThreshold: 0.05);
}

/// <summary>Why the policy kept or switched plans; the counts are keyed by these.</summary>
public enum AdaptationReason
{
    /// <summary>No plan yet: the first plan is deployed.</summary>
    Initial,
    /// <summary>The current plan cannot run any more (device gone, memory, link): switched regardless of dwell.</summary>
    CurrentInfeasible,
    /// <summary>The planner chose the plan already in force.</summary>
    SamePlan,
    /// <summary>No condition moved by more than the re-plan threshold: the planner was not asked.</summary>
    ConditionsUnchanged,
    /// <summary>The current plan has not been in force for the minimum dwell yet.</summary>
    Dwell,
    /// <summary>The new plan is better by less than the hysteresis margin.</summary>
    WithinHysteresis,
    /// <summary>The predicted gain over the window does not pay for the switch.</summary>
    GainBelowSwitchCost,
    /// <summary>The predicted gain exceeds the switch cost: switched.</summary>
    Worthwhile,
}

/// <summary>
/// One decision, for the log and the metrics. <paramref name="PredictedGain"/> is over the whole
/// window, in the objective's unit; <paramref name="Plan"/> is the plan in force afterwards.
/// </summary>
public sealed record AdaptationDecision(
    TimeSpan At,
    bool Switched,
    AdaptationReason Reason,
    string Detail,
    Plan? OldPlan,
    Plan Candidate,
    Plan Plan,
    double OldValue,
    double NewValue,
    double PredictedGain);

/// <summary>
/// The re-planning loop's brain: on each new state, asks the planner for a candidate and switches
/// to it only when the predicted gain over the next window exceeds the switch cost, the gain
/// clears the hysteresis margin and the current plan has dwelt long enough. It numbers nothing and
/// logs nothing: whoever deploys numbers the plans and keeps the decision log, and tells the policy
/// through <see cref="Deployed"/> what really runs (a failed switch leaves the old plan in force).
/// Time is the state's <see cref="PlanningState.Elapsed"/>. Thread-safe.
/// </summary>
public sealed class AdaptationPolicy(IPlanner planner, CostModel costModel, Objective objective, AdaptationOptions options)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<AdaptationReason, long> _counts = Enum.GetValues<AdaptationReason>().ToDictionary(r => r, _ => 0L);
    private TimeSpan _switchedAt;
    private PlanningState? _plannedFor;

    public IPlanner Planner { get; } = planner;

    public Objective Objective { get; } = objective;

    public AdaptationOptions Options { get; } = options;

    /// <summary>The plan the policy believes in force: its latest switch, or what <see cref="Deployed"/> said; null before the first.</summary>
    public Plan? Current { get; private set; }

    /// <summary>Decisions made so far, by reason.</summary>
    public IReadOnlyDictionary<AdaptationReason, long> Counts
    {
        get { lock (_gate) return new Dictionary<AdaptationReason, long>(_counts); }
    }

    public long Switches
    {
        get { lock (_gate) return _counts[AdaptationReason.Initial] + _counts[AdaptationReason.CurrentInfeasible] + _counts[AdaptationReason.Worthwhile]; }
    }

    /// <summary>Decides whether to switch for <paramref name="state"/>; the result says why.</summary>
    public AdaptationDecision Decide(PlanningState state)
    {
        lock (_gate)
        {
            if (Current is not null && _plannedFor is not null && !Moved(_plannedFor, state, Options.ReplanThreshold) && costModel.Estimate(state, Current).Feasible)
            {
                var value = costModel.Estimate(state, Current).Value(Objective);
                return Record(state, AdaptationReason.ConditionsUnchanged, $"no condition moved more than {Options.ReplanThreshold:P0}", Current, Current, value, value, switched: false);
            }
            _plannedFor = state;
            var candidate = Planner.Plan(state, Objective);
            var newValue = costModel.Estimate(state, candidate).Value(Objective);
            var old = Current;
            if (old is null) return Record(state, AdaptationReason.Initial, "first plan", null, candidate, double.NaN, newValue, switched: true);

            var oldEstimate = costModel.Estimate(state, old);
            var oldValue = oldEstimate.Value(Objective);
            if (!oldEstimate.Feasible)
            {
                return Record(state, AdaptationReason.CurrentInfeasible, oldEstimate.InfeasibleReason ?? "current plan cannot run", old, candidate, oldValue, newValue, switched: !candidate.SamePlacement(old));
            }
            if (candidate.SamePlacement(old))
            {
                return Record(state, AdaptationReason.SamePlan, "planner chose the current plan", old, candidate, oldValue, newValue, switched: false);
            }
            var gainPerRequest = oldValue - newValue;
            var dwelt = state.Elapsed - _switchedAt;
            if (dwelt < Options.MinDwell)
            {
                // Not settled: ask the planner again next time even if nothing moves.
                _plannedFor = null;
                return Record(state, AdaptationReason.Dwell, $"in force for {dwelt.TotalSeconds:F1} s < {Options.MinDwell.TotalSeconds:F1} s", old, candidate, oldValue, newValue, switched: false);
            }
            if (gainPerRequest <= Options.HysteresisFraction * Math.Abs(oldValue))
            {
                return Record(state, AdaptationReason.WithinHysteresis, $"gain {gainPerRequest:G4} per request is within {Options.HysteresisFraction:P0} of {oldValue:G4}", old, candidate, oldValue, newValue, switched: false);
            }
            if (gainPerRequest * Options.WindowRequests <= Options.SwitchCost)
            {
                return Record(state, AdaptationReason.GainBelowSwitchCost, $"gain {gainPerRequest * Options.WindowRequests:G4} over {Options.WindowRequests} requests <= switch cost {Options.SwitchCost:G4}", old, candidate, oldValue, newValue, switched: false);
            }
            return Record(state, AdaptationReason.Worthwhile, $"gain {gainPerRequest * Options.WindowRequests:G4} over {Options.WindowRequests} requests > switch cost {Options.SwitchCost:G4}", old, candidate, oldValue, newValue, switched: true);
        }
    }

    /// <summary>
    /// What was really deployed at <paramref name="at"/>: the policy's view follows it, so a switch that
    /// failed does not leave the policy believing in a plan that never ran (its dwell starts at the real switch).
    /// </summary>
    public void Deployed(Plan? deployed, TimeSpan at)
    {
        lock (_gate)
        {
            if (deployed is null)
            {
                Current = null;
                _plannedFor = null;
            }
            else if (!deployed.SamePlacement(Current))
            {
                Current = deployed;
                _switchedAt = at;
                _plannedFor = null;
            }
        }
    }

    /// <summary>Whether any condition the planners read moved by more than <paramref name="threshold"/> (relative).</summary>
    public static bool Moved(PlanningState before, PlanningState after, double threshold)
    {
        if (threshold <= 0 || !ReferenceEquals(before.Profile, after.Profile) || before.SourceDevice != after.SourceDevice) return true;
        if (before.Devices.Count != after.Devices.Count || before.Links.Count != after.Links.Count) return true;
        static bool Far(double a, double b, double t) => Math.Abs(a - b) > t * Math.Max(Math.Abs(a), Math.Abs(b));
        foreach (var d in after.Devices)
        {
            var old = before.Devices.FirstOrDefault(o => o.Name == d.Name);
            if (old is null || Far(old.CpuAvailability, d.CpuAvailability, threshold) || Far(old.RelativeSpeed, d.RelativeSpeed, threshold)
                || Far(old.MemoryBudgetBytes, d.MemoryBudgetBytes, threshold) || old.Power != d.Power) return true;
        }
        foreach (var l in after.Links)
        {
            var old = before.Link(l.From, l.To);
            if (old is null || Far(old.BytesPerSecond, l.BytesPerSecond, threshold) || Far(old.RttMs, l.RttMs, threshold)) return true;
        }
        return false;
    }

    private AdaptationDecision Record(PlanningState state, AdaptationReason reason, string detail, Plan? old, Plan candidate, double oldValue, double newValue, bool switched)
    {
        _counts[reason]++;
        var gain = double.IsFinite(oldValue) ? (oldValue - newValue) * Options.WindowRequests : double.PositiveInfinity;
        if (old is null) gain = double.NaN;
        if (switched)
        {
            Current = candidate;
            _switchedAt = state.Elapsed;
        }
        return new AdaptationDecision(state.Elapsed, switched, reason, detail, old, candidate, Current!, oldValue, newValue, gain);
    }
}
