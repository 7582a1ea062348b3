using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Planning;
using EdgeSplit.Reports;

namespace EdgeSplit.Evaluation;

/// <summary>
/// The plan source of the fixed strategies (single, static): plans from the emulated conditions now in
/// force, restricted to the devices the coordinator sees alive, when the coordinator asks (at start and
/// when a device in the plan dies). The adaptive strategies use the coordinator's own adaptive loop.
/// </summary>
internal sealed class StrategyPlanSource : IPlanSource
{
    private readonly object _gate = new();
    private readonly Func<PlanningState> _state;
    private readonly List<double> _decisionMs = [];

    public StrategyPlanSource(Strategy strategy, Func<PlanningState> state, Objective objective, IReadOnlyList<ConditionWindow> truth, double timeScale, int seed)
    {
        Strategy = strategy;
        _state = state;
        Objective = objective;
        CostModel = new CostModel(correctionEnabled: false);
        var registry = new PlannerRegistry(CostModel);
        Planner = strategy switch
        {
            Strategy.Single => new SingleDevicePlanner(CostModel),
            Strategy.Oracle => registry.Create("oracle", truth),
            Strategy.Rl => registry.Create("rl", rlOptions: new RlOptions(Seed: seed)),
            // The same planner as optimal: the tiles come from the profile it is given (PreparedModel.TiledProfile).
            Strategy.Tiles => registry.Create("optimal"),
            _ => registry.Create(strategy.Name()),
        };
        // The policy's dwell is scenario time: a compressed scenario compresses it too.
        var options = AdaptationOptions.Default with { MinDwell = AdaptationOptions.Default.MinDwell * timeScale };
        Policy = new AdaptationPolicy(Planner, CostModel, objective, options);
    }

    public Strategy Strategy { get; }

    public Objective Objective { get; }

    public CostModel CostModel { get; }

    public IPlanner Planner { get; }

    public AdaptationPolicy Policy { get; }

    public IReadOnlyList<double> DecisionMs
    {
        get
        {
            lock (_gate) return [.. _decisionMs];
        }
    }

    /// <summary>Asked by the coordinator at start and when a device of the plan dies or one returns.</summary>
    public PlanProposal Propose(PlanRequest request)
    {
        var state = _state();
        var live = request.LiveDevices.ToHashSet(StringComparer.Ordinal);
        state = state with { Devices = [.. state.Devices.Where(d => live.Contains(d.Name))], Links = [.. state.Links.Where(l => live.Contains(l.From) && live.Contains(l.To))] };
        if (state.Devices.Count == 0)
        {
            throw new NoPlanFitsException("no device is alive");
        }
        if (state.Devices.All(d => d.Name != state.SourceDevice))
        {
            // The camera's device is down: its frames reach the coordinator, which sends them to the plan's first device.
            state = state with { SourceDevice = state.Devices[0].Name };
        }
        if (request.Current is { } current && current.RunsOn(state))
        {
            // A device came back: a fixed strategy keeps its plan while it still runs.
            return new PlanProposal(current);
        }
        return new PlanProposal(Decide(state, out _));
    }

    /// <summary>The strategy's choice for <paramref name="state"/>; switch says whether it differs from the plan in force.</summary>
    public Plan Decide(PlanningState state, out bool worthSwitching)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Plan plan;
        worthSwitching = true;
        switch (Strategy)
        {
            case Strategy.Greedy or Strategy.Optimal or Strategy.Tiles:
                var decision = Policy.Decide(state);
                plan = decision.Plan;
                worthSwitching = decision.Switched;
                break;
            default:
                plan = Planner.Plan(state, Objective);
                break;
        }
        var ms = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        lock (_gate) _decisionMs.Add(ms);
        return plan;
    }
}

/// <summary>Pathway 1: the whole model on the one device the cost model finds fastest (the input relayed there).</summary>
internal sealed class SingleDevicePlanner(CostModel costModel) : IPlanner
{
    private Plan? _chosen;

    public string Name => "single";

    public Plan Plan(PlanningState state, Objective objective)
    {
        // Chosen once, like static; re-chosen only when its device is gone.
        if (_chosen is not null && _chosen.RunsOn(state)) return _chosen;
        var n = state.Profile.NodeCount;
        var best = state.Devices
            .Select(d => new Plan(0, [new Stage(d.Name, 0, n - 1)]))
            .Select(p => (Plan: p, Estimate: costModel.Estimate(state, p)))
            .Where(x => x.Estimate.Feasible)
            .OrderBy(x => x.Estimate.Value(objective))
            .Select(x => x.Plan)
            .FirstOrDefault() ?? throw new NoFeasiblePlanException("no single device can hold the whole model");
        _chosen = best;
        return best;
    }
}
