namespace EdgeSplit.Planning;

/// <summary>
/// Chooses a plan for a state and an objective. Plans come back with version 0: the caller
/// (the coordinator, or <see cref="AdaptationPolicy"/>) numbers the plans it deploys.
/// Throws <see cref="NoFeasiblePlanException"/> when no placement fits.
/// </summary>
public interface IPlanner
{
    string Name { get; }

    Plan Plan(PlanningState state, Objective objective);
}

/// <summary>A planner that learns from what served requests really cost.</summary>
public interface ILearningPlanner : IPlanner
{
    /// <summary>Reports the observed outcome of serving one request with <paramref name="plan"/> in <paramref name="state"/>.</summary>
    void Learn(PlanningState state, Plan plan, Objective objective, double observedLatencyMs, double observedEnergyJ);
}

/// <summary>No placement satisfies the memory budgets and links of the state.</summary>
public sealed class NoFeasiblePlanException(string message) : EdgeSplit.Graph.BadInputException(message);

/// <summary>Structural helpers on plans (records compare lists by reference).</summary>
public static class PlanExtensions
{
    /// <summary>The placement without the version, e.g. <c>pi[0..10]|laptop[11..52]</c>; equal signatures = same placement.</summary>
    public static string Signature(this Plan plan) =>
        string.Join("|", plan.Stages.Select(s => s.Tiles is null ? $"{s.Device}[{s.FirstNode}..{s.LastNode}]" : $"{s.Tiles}[{s.FirstNode}..{s.LastNode}]->{s.Device}"));

    public static bool SamePlacement(this Plan plan, Plan? other) => other is not null && plan.Signature() == other.Signature();

    /// <summary>Every device of the plan exists in <paramref name="state"/>.</summary>
    public static bool RunsOn(this Plan plan, PlanningState state) =>
        plan.Stages.All(s => state.Devices.Any(d => d.Name == s.Device) && (s.Tiles?.Devices.All(t => state.Devices.Any(d => d.Name == t)) ?? true));
}

/// <summary>
/// Creates planners by name (<c>static</c>, <c>greedy</c>, <c>optimal</c>, <c>rl</c>, <c>oracle</c>),
/// all sharing one <see cref="CostModel"/>. <c>oracle</c> needs the recorded true conditions.
/// </summary>
public sealed class PlannerRegistry(CostModel costModel)
{
    public static IReadOnlyList<string> Names { get; } = ["static", "greedy", "optimal", "rl", "oracle"];

    public CostModel CostModel { get; } = costModel;

    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="truth">The oracle's recorded conditions per time window; required for <c>oracle</c>.</param>
    /// <param name="rlOptions">Options for <c>rl</c>; defaults if null.</param>
    public IPlanner Create(string name, IReadOnlyList<ConditionWindow>? truth = null, RlOptions? rlOptions = null) => name.Trim().ToLowerInvariant() switch
    {
        "static" => new StaticPlanner(new OptimalPlanner(CostModel)),
        "greedy" => new GreedyPlanner(CostModel),
        "optimal" => new OptimalPlanner(CostModel),
        "rl" => new RlPlanner(CostModel, rlOptions ?? new RlOptions()),
        "oracle" => new OraclePlanner(truth ?? throw new EdgeSplit.Graph.BadInputException("the oracle planner needs recorded conditions (evaluation only)")),
        _ => throw new EdgeSplit.Graph.BadInputException($"unknown planner '{name}'; use one of {string.Join(", ", Names)}"),
    };
}
