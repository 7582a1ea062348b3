using System.Diagnostics;
using EdgeSplit.Planning;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// The model-based planners (static, greedy, optimal, oracle) behind <see cref="AdaptationPolicy"/>:
/// on every tick the policy weighs the planner's candidate against the plan really deployed
/// (hysteresis, dwell, switch cost); every served request corrects the cost model.
/// </summary>
public sealed class PolicyPlanSource : AdaptivePlanSource
{
    private readonly AdaptationPolicy _policy;

    internal PolicyPlanSource(AdaptiveOptions options, SegmentProfile profile, IPlanner planner, CostModel costModel, ILogger? logger)
        : base(options, profile, planner, costModel, logger)
    {
        _policy = new AdaptationPolicy(planner, costModel, options.Objective, options.EffectiveAdaptation);
    }

    public override PlanProposal Propose(PlanRequest request)
    {
        if (request.LiveDevices.Count == 0)
        {
            throw new NoPlanFitsException("no agent is reachable; start agents or check --agents");
        }
        var state = States.Build(request);
        lock (Gate)
        {
            // At start, and when devices die or return, the policy first learns what really runs (a plan on a dead device is then infeasible).
            _policy.Deployed(request.Current, state.Elapsed);
            return Decide(state, request.Reason);
        }
    }

    public override PlanProposal? OnTick(PlanRequest request)
    {
        if (request.Current is null || request.LiveDevices.Count == 0 || !request.LiveDevices.Contains(request.SourceDevice))
        {
            return null;
        }
        var state = States.Build(request);
        lock (Gate)
        {
            return Decide(state, "metrics update");
        }
    }

    public override ServedFeedback OnServed(ServedObservation observed, PlanRequest request)
    {
        lock (Gate)
        {
            return LastState is { } state && observed.Plan.RunsOn(state) ? new ServedFeedback(Observe(state, observed), null) : ServedFeedback.None;
        }
    }

    public override void OnDeployed(Plan? deployed, TimeSpan elapsed)
    {
        lock (Gate)
        {
            _policy.Deployed(deployed, Options.Clock?.Invoke() ?? elapsed);
        }
    }

    private PlanProposal Decide(PlanningState state, string trigger)
    {
        var started = Stopwatch.GetTimestamp();
        var decision = _policy.Decide(state);
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        LastState = state;
        return new PlanProposal(decision.Plan, Record(decision.Switched, decision.Reason.ToString(), $"{trigger}: {decision.Detail}", decision.OldPlan,
            decision.Candidate, decision.OldValue, decision.NewValue, decision.PredictedGain, ms));
    }
}
