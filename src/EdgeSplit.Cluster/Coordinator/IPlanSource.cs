using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Planning;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>What the coordinator knows about one agent at one moment, for building a planning state.</summary>
public sealed record AgentSnapshot(string Name, string Address, bool Alive, long PingMemoryBytes, DeviceSample? Latest);

/// <summary>What a plan source sees when the adaptation loop asks it: the live view, the plan in force, the time, why.</summary>
public sealed record PlanRequest(
    long Version,
    int NodeCount,
    string SourceDevice,
    IReadOnlyList<string> LiveDevices,
    IReadOnlyDictionary<string, long> MemoryAvailableBytes,
    IReadOnlyList<double> NodeCostsMs,
    Plan? Current,
    string Reason)
{
    /// <summary>Every agent as last seen (alive or not, with its latest metrics).</summary>
    public IReadOnlyList<AgentSnapshot> Agents { get; init; } = [];

    /// <summary>Time since the coordinator started, on its clock.</summary>
    public TimeSpan Elapsed { get; init; }
}

/// <summary>What a served request measured, in route order, for the cost model's correction and rl.</summary>
public sealed record ServedObservation(Plan Plan, double LatencyMs, IReadOnlyList<double> StageComputeMs, IReadOnlyList<HopObservation> Hops)
{
    /// <summary>A tile group's scatter, tiles and gather: each part's compute on its own device (its stage's entry in <see cref="StageComputeMs"/> is NaN).</summary>
    public IReadOnlyList<(string Device, double ComputeMs)> TileComputeMs { get; init; } = [];
}

/// <summary>
/// A plan the source proposes, with the decision that produced it for the coordinator's one decision
/// log (null when the source keeps none). From a tick or a served request, the coordinator switches
/// only when the decision says <see cref="DecisionRecord.Switched"/>.
/// </summary>
public sealed record PlanProposal(Plan Plan, DecisionRecord? Decision = null);

/// <summary>After a served request: its estimated energy (NaN when the source knows no power model) and, maybe, a plan to switch to.</summary>
public sealed record ServedFeedback(double EstimatedEnergyJ, PlanProposal? Next)
{
    public static ServedFeedback None { get; } = new(double.NaN, null);
}

/// <summary>How an adaptive source names itself in Status.</summary>
public sealed record AdaptationInfo(string Planner, string Objective, bool CostCorrection);

/// <summary>
/// The seam plan sources plug into; the adaptation loop is the only caller. It asks for a plan at start,
/// when a device of the plan dies or one returns (<see cref="Propose"/>), on every monitoring tick,
/// after every served or timed-out request, and says what was really deployed. Throw
/// <see cref="NoPlanFitsException"/> (or the Planning project's <see cref="NoFeasiblePlanException"/>) when none fits.
/// Plans come back unversioned: the coordinator numbers what it deploys.
/// </summary>
public interface IPlanSource
{
    /// <summary>A plan over the live devices.</summary>
    PlanProposal Propose(PlanRequest request);

    /// <summary>One monitoring tick; null when the source has nothing to say.</summary>
    PlanProposal? OnTick(PlanRequest request) => null;

    /// <summary>One served request of <paramref name="observed"/>.Plan.</summary>
    ServedFeedback OnServed(ServedObservation observed, PlanRequest request) => ServedFeedback.None;

    /// <summary>An attempt on <paramref name="plan"/> got no answer within <paramref name="waited"/>.</summary>
    PlanProposal? OnTimedOut(Plan plan, TimeSpan waited, PlanRequest request) => null;

    /// <summary>What the coordinator really deployed (null: nothing serves), at <paramref name="elapsed"/> on its clock.</summary>
    void OnDeployed(Plan? deployed, TimeSpan elapsed)
    {
    }

    /// <summary>The planner and objective shown in Status; null for a source that does not adapt.</summary>
    AdaptationInfo? Adaptation => null;
}

/// <summary>No placement of the model fits the devices that are left; Infer then fails fast.</summary>
public sealed class NoPlanFitsException(string message) : ClusterException(FailureKind.NotReady, message);
