namespace EdgeSplit.Planning;

/// <summary>
/// Fast heuristic, O(devices^2 x nodes): from each possible first device, walk the nodes and at
/// every cut move to the unused device that would finish the rest sooner (one-switch look-ahead),
/// or when the current device's memory is full; return the best walk or single-device plan.
/// Not optimal: it never looks two switches ahead.
/// </summary>
public sealed class GreedyPlanner(CostModel costModel) : IPlanner
{
    public string Name => "greedy";

    public CostModel CostModel { get; } = costModel;

    public Plan Plan(PlanningState state, Objective objective)
    {
        var t = CostModel.Compile(state);
        // Throughput has no additive form; the latency walk is a reasonable proxy for a heuristic.
        var (wLatency, wEnergy) = objective.Kind switch
        {
            ObjectiveKind.Energy => (0.0, 1.0),
            ObjectiveKind.Weighted => (1.0, objective.EnergyWeightMsPerJoule),
            _ => (1.0, 0.0),
        };
        Plan? best = null;
        var bestValue = double.PositiveInfinity;
        for (var first = 0; first < t.DeviceCount; first++)
        {
            foreach (var stages in new[] { Walk(t, first, wLatency, wEnergy, double.PositiveInfinity), Walk(t, first, wLatency, wEnergy, objective.FrameIntervalMs ?? double.PositiveInfinity), [(first, 0, t.NodeCount - 1)] })
            {
                if (stages is null) continue;
                var plan = t.ToPlan(stages);
                var estimate = CostModel.Estimate(state, plan);
                if (estimate.Feasible && estimate.Value(objective) < bestValue)
                {
                    bestValue = estimate.Value(objective);
                    best = plan;
                }
            }
        }
        return best ?? throw new NoFeasiblePlanException("greedy found no placement that fits the memory budgets and links; add memory or devices, or try optimal");
    }

    /// <summary>One walk from <paramref name="firstDevice"/>; a stage whose compute would pass <paramref name="capMs"/> (a camera's frame interval) must move on, as a full memory must.</summary>
    private static List<(int Device, int First, int Last)>? Walk(CostTables t, int firstDevice, double wLatency, double wEnergy, double capMs)
    {
        var n = t.NodeCount;
        double Cost(int d, int from) =>
            (wLatency + (wEnergy * t.ActiveJoulesPerMs[d])) * t.ComputeMs(d, from, n - 1)
            + (wLatency * t.TransferMs(d, t.Source, t.OutputBytes)) + (wEnergy * t.TransferJoules(d, t.Source, t.OutputBytes));

        var stages = new List<(int, int, int)>();
        var used = 1 << firstDevice;
        var current = firstDevice;
        var start = 0;
        if (t.MemoryBytes(0, 0) > t.MemoryBudget[current]) return null;
        for (var cut = 0; cut < n - 1; cut++)
        {
            var mustMove = t.MemoryBytes(start, cut + 1) > t.MemoryBudget[current] || t.ComputeMs(current, start, cut + 1) > capMs;
            var stay = mustMove ? double.PositiveInfinity : Cost(current, cut + 1);
            var target = -1;
            var targetCost = stay;
            for (var d = 0; d < t.DeviceCount; d++)
            {
                if ((used & (1 << d)) != 0 || t.MemoryBytes(cut + 1, cut + 1) > t.MemoryBudget[d]) continue;
                var bytes = t.CutBytes[cut];
                var cost = (wLatency * t.TransferMs(current, d, bytes)) + (wEnergy * t.TransferJoules(current, d, bytes)) + Cost(d, cut + 1);
                if (cost < targetCost)
                {
                    targetCost = cost;
                    target = d;
                }
            }
            if (target < 0)
            {
                if (mustMove) return null;
                continue;
            }
            stages.Add((current, start, cut));
            used |= 1 << target;
            current = target;
            start = cut + 1;
        }
        stages.Add((current, start, n - 1));
        return stages;
    }
}

/// <summary>
/// The baseline the proposal argues against: plans once from the first state it sees and keeps
/// that plan. It re-plans only if a device of its plan disappears, since the plan could not run.
/// </summary>
public sealed class StaticPlanner(IPlanner inner) : IPlanner
{
    private Plan? _chosen;

    public string Name => "static";

    public Plan Plan(PlanningState state, Objective objective)
    {
        if (_chosen is null || !_chosen.RunsOn(state)) _chosen = inner.Plan(state, objective);
        return _chosen;
    }
}

/// <summary>The true conditions of one time window [<paramref name="Start"/>, <paramref name="End"/>), as recorded by the testbed.</summary>
public sealed record ConditionWindow(TimeSpan Start, TimeSpan End, PlanningState TrueState);

/// <summary>
/// Evaluation only: the best plan in hindsight for the window containing
/// <see cref="PlanningState.Elapsed"/>, planned exactly on that window's recorded true conditions
/// (the state it is handed gives only its clock and which devices are reachable: a device that is up in the
/// recorded conditions but cannot be reached now, or that came back and has not rejoined, cannot serve, so the
/// oracle plans over the reachable ones). Never used to serve.
/// </summary>
public sealed class OraclePlanner(IReadOnlyList<ConditionWindow> truth) : IPlanner
{
    private readonly OptimalPlanner _exact = new(new CostModel(correctionEnabled: false));

    public string Name => "oracle";

    public Plan Plan(PlanningState state, Objective objective)
    {
        var window = truth.FirstOrDefault(w => state.Elapsed >= w.Start && state.Elapsed < w.End)
            ?? truth.LastOrDefault(w => w.Start <= state.Elapsed)
            ?? throw new ArgumentException($"no recorded conditions cover t = {state.Elapsed}", nameof(state));
        var reachable = state.Devices.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var known = window.TrueState;
        if (reachable.Count > 0 && known.Devices.Any(d => !reachable.Contains(d.Name)))
        {
            known = known with
            {
                Devices = [.. known.Devices.Where(d => reachable.Contains(d.Name))],
                Links = [.. known.Links.Where(l => reachable.Contains(l.From) && reachable.Contains(l.To))],
                SourceDevice = state.SourceDevice,
            };
        }
        return _exact.Plan(known, objective);
    }
}
