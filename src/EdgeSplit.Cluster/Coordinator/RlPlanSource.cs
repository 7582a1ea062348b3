using System.Diagnostics;
using EdgeSplit.Planning;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// rl as a plan source: it chooses per window of served requests (an exploration gets one request,
/// the whole window only if it comes back competitive), learns from every request of its own choice,
/// chooses again at once when its plan leaves a request unanswered, and follows the plan really
/// deployed when a switch fails. Its policy is loaded at start and saved on dispose when a file is named.
/// </summary>
public sealed class RlPlanSource : AdaptivePlanSource
{
    private readonly RlPlanner _rl;
    private PlanningState? _state;
    private Plan? _chosen;
    private int _served;
    private int _window = 1;
    private int _disposed;

    internal RlPlanSource(AdaptiveOptions options, SegmentProfile profile, RlPlanner rl, CostModel costModel, ILogger? logger)
        : base(options, profile, rl, costModel, logger)
    {
        _rl = rl;
        if (options.RlPolicyFile is { } file && File.Exists(file))
        {
            rl.Load(file);
            Logger.LogInformation("rl: loaded policy {File} ({Requests} requests learned)", file, rl.LearnedRequests);
        }
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
            var started = Stopwatch.GetTimestamp();
            var (plan, explored) = _rl.Choose(state, Options.Objective);
            _state = state;
            LastState = state;
            StartWindow(plan, explored);
            return new PlanProposal(plan, Record(!plan.SamePlacement(request.Current), "RlChoice", $"{request.Reason}: rl choice", request.Current, plan,
                double.NaN, double.NaN, double.NaN, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
        }
    }

    public override ServedFeedback OnServed(ServedObservation observed, PlanRequest request)
    {
        lock (Gate)
        {
            if (_state is not { } state || !observed.Plan.RunsOn(state))
            {
                return ServedFeedback.None;
            }
            var energy = Observe(state, observed);
            if (_chosen is null || !observed.Plan.SamePlacement(_chosen))
            {
                // A request of the plan before rl's latest choice (in flight across the switch): it corrects
                // the cost model above but neither teaches rl about the new plan nor counts in its window.
                return new ServedFeedback(energy, null);
            }
            _rl.Learn(state, observed.Plan, Options.Objective, observed.LatencyMs, energy);
            if (_served == 0 && _window < Options.RlWindowRequests
                && _rl.IsCompetitive(state, Options.Objective, RlPlanner.Reward(Options.Objective, observed.LatencyMs, energy)))
            {
                // An exploration that came back competitive with the best gets a full window to prove itself.
                _window = Options.RlWindowRequests;
            }
            if (++_served < Math.Max(1, _window))
            {
                return new ServedFeedback(energy, null);
            }
            // The window is over: choose again from the newest conditions.
            return new ServedFeedback(energy, ChooseAgain(request, explore: true, $"rl window of {_served} requests"));
        }
    }

    /// <summary>
    /// rl learns the time it waited as the plan's latency (a lower bound, so the lesson is if anything
    /// too mild) and chooses again at once, without exploring: waiting for a window of served requests
    /// would wait forever on a plan too slow to serve any.
    /// </summary>
    public override PlanProposal? OnTimedOut(Plan plan, TimeSpan waited, PlanRequest request)
    {
        lock (Gate)
        {
            if (_chosen is null || _state is null || !plan.SamePlacement(_chosen) || !plan.RunsOn(_state))
            {
                // rl has already moved on from this plan (another request timed out first).
                return null;
            }
            _rl.Learn(_state, plan, Options.Objective, waited.TotalMilliseconds, CostModel.Estimate(_state, plan).EnergyJ);
            return ChooseAgain(request, explore: false, $"no answer within {waited.TotalMilliseconds:F0} ms");
        }
    }

    /// <summary>Normally rl's own latest choice; if a switch failed, rl follows the plan that really serves, or it would wait for requests of a plan that never runs.</summary>
    public override void OnDeployed(Plan? deployed, TimeSpan elapsed)
    {
        lock (Gate)
        {
            if (_chosen is not null && deployed is not null && !deployed.SamePlacement(_chosen))
            {
                StartWindow(deployed, explored: false);
            }
        }
    }

    private void StartWindow(Plan plan, bool explored)
    {
        // An exploration is tried on one request first: a poor arm then costs one request, not a window of them.
        _chosen = plan;
        _served = 0;
        _window = explored ? 1 : Options.RlWindowRequests;
    }

    /// <summary>rl's next choice from the newest conditions, logged; a proposal to switch only when it moves.</summary>
    private PlanProposal? ChooseAgain(PlanRequest request, bool explore, string why)
    {
        if (_chosen is null || !request.LiveDevices.Contains(request.SourceDevice))
        {
            return null;
        }
        var fresh = States.Build(request);
        var started = Stopwatch.GetTimestamp();
        var (next, explored) = explore ? _rl.Choose(fresh, Options.Objective) : (_rl.Exploit(fresh, Options.Objective), false);
        var switched = !next.SamePlacement(_chosen);
        var record = Record(switched, switched ? "RlChoice" : "SamePlan", why, _chosen, next, double.NaN, double.NaN, double.NaN, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        _state = fresh;
        LastState = fresh;
        StartWindow(next, explored);
        return new PlanProposal(next, record);
    }

    /// <summary>Saves the rl policy, if a file was named.</summary>
    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1 || Options.RlPolicyFile is not { } file)
        {
            return;
        }
        lock (Gate)
        {
            _rl.Save(file);
        }
        Logger.LogInformation("rl: saved policy to {File} ({Requests} requests learned)", file, _rl.LearnedRequests);
    }
}
