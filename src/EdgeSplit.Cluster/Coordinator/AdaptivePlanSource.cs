using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Planning;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// A plan source that adapts to the live measurements: a named planner over a <see cref="PlanningState"/>
/// built from the coordinator's view, with a cost model corrected online from every served request.
/// Two kinds exist: <see cref="PolicyPlanSource"/> (static, greedy, optimal, oracle, judged by
/// <see cref="AdaptationPolicy"/>) and <see cref="RlPlanSource"/> (rl, per window of requests).
/// </summary>
public abstract class AdaptivePlanSource : IPlanSource, IDisposable
{
    private protected AdaptivePlanSource(AdaptiveOptions options, SegmentProfile profile, IPlanner planner, CostModel costModel, ILogger? logger)
    {
        Options = options;
        CostModel = costModel;
        Planner = planner;
        States = new PlanningStateBuilder(options, profile);
        Logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The source <paramref name="options"/> name: <see cref="RlPlanSource"/> for rl, <see cref="PolicyPlanSource"/> for the others.</summary>
    public static AdaptivePlanSource Create(AdaptiveOptions options, SegmentProfile profile, ILogger? logger = null)
    {
        var costModel = new CostModel(options.CostCorrection);
        var planner = new PlannerRegistry(costModel).Create(options.Planner, options.OracleTruth, options.Rl);
        return planner is RlPlanner rl
            ? new RlPlanSource(options, profile, rl, costModel, logger)
            : new PolicyPlanSource(options, profile, planner, costModel, logger);
    }

    public AdaptiveOptions Options { get; }

    /// <summary>The cost model shared by the planner and the policy (its factors are the online correction).</summary>
    public CostModel CostModel { get; }

    public IPlanner Planner { get; }

    /// <summary>The latest state the source planned from (null before the first decision).</summary>
    public PlanningState? LastState { get; protected set; }

    public AdaptationInfo Adaptation => new(Planner.Name, Options.Objective.Kind.ToString().ToLowerInvariant(), CostModel.CorrectionEnabled);

    private protected PlanningStateBuilder States { get; }

    private protected ILogger Logger { get; }

    /// <summary>A lock for the source's state: the coordinator calls it from requests, ticks and switches at once.</summary>
    private protected Lock Gate { get; } = new();

    public abstract PlanProposal Propose(PlanRequest request);

    public virtual PlanProposal? OnTick(PlanRequest request) => null;

    public abstract ServedFeedback OnServed(ServedObservation observed, PlanRequest request);

    public virtual PlanProposal? OnTimedOut(Plan plan, TimeSpan waited, PlanRequest request) => null;

    public abstract void OnDeployed(Plan? deployed, TimeSpan elapsed);

    /// <summary>Corrects the cost model from one served request of a plan that runs in <paramref name="state"/>; returns its estimated energy.</summary>
    private protected double Observe(PlanningState state, ServedObservation observed)
    {
        var energy = EnergyModel.RequestJ(state, observed.Plan, observed.StageComputeMs, observed.Hops, observed.TileComputeMs);
        if (observed.StageComputeMs.Count == observed.Plan.Stages.Count)
        {
            CostModel.Observe(state, observed.Plan, observed.StageComputeMs, observed.Hops);
        }
        return energy;
    }

    /// <summary>A decision for the coordinator's log, which stamps it with its own clock.</summary>
    private protected static DecisionRecord Record(bool switched, string reason, string detail, Plan? old, Plan plan, double oldValue, double newValue, double gain, double ms) =>
        new(default, switched, reason, detail, old?.Signature(), plan.Signature(), oldValue, newValue, gain, ms);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}
