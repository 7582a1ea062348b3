using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Planning;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeSplit.Cluster.Tests;

/// <summary>How <see cref="PlannerPlanSource"/> turns the coordinator's live view into a planning state (no network needed).</summary>
public sealed class PlannerStateTests
{
    private static readonly SegmentProfile Profile = new([1, 1, 1], [10, 10, 10], [100, 100], 100, 100);

    private static DeviceSample Sample(string name, double cpu, double ownCpu, params LinkSample[] links) =>
        new(name, DateTimeOffset.UtcNow, cpu, [cpu], 1_000_000, 2_000_000, ownCpu, 0, 0, 0, double.NaN, double.NaN, double.NaN, true, links, 0, 0);

    [Fact]
    public void Measured_links_win_and_configured_links_fill_in_before_any_traffic()
    {
        var configured = new LinkSpec("b", "a", 5e5, 40);
        var source = PlannerPlanSource.Create(new AdaptiveOptions("optimal", Objective.Latency) { Links = [configured], DefaultBytesPerSecond = 7e6, DefaultRttMs = 3 }, Profile);
        IReadOnlyList<AgentSnapshot> view =
        [
            new("a", "127.0.0.1:1", true, 0, Sample("a", 0.2, 0.1, new LinkSample("127.0.0.1:2", 2.5, 9e6), new LinkSample("127.0.0.1:3", double.NaN, 0))),
            new("b", "127.0.0.1:2", true, 0, Sample("b", 0.0, 0.0, new LinkSample("127.0.0.1:1", double.NaN, 0))),
            new("c", "127.0.0.1:3", true, 0, null),
        ];
        source.Attach("a", () => view, NullLogger.Instance);

        var state = source.BuildState(["a", "b", "c"]);

        Assert.Equal(new LinkSpec("a", "b", 9e6, 2.5), state.Link("a", "b"));   // measured
        Assert.Equal(configured, state.Link("b", "a"));                          // configured, nothing measured yet
        Assert.Equal(new LinkSpec("a", "c", 7e6, 3), state.Link("a", "c"));      // neither: the defaults
        Assert.Equal(0.9, state.Device("a").CpuAvailability, 6);                 // its own 10% does not count against it
        Assert.Equal(1, state.Device("c").CpuAvailability);                      // no metrics yet
        Assert.Equal(1_000_000, state.Device("a").MemoryBudgetBytes);
        Assert.Equal("a", state.SourceDevice);
    }

    [Fact]
    public void Device_specs_give_speed_power_and_cap_memory_while_cpu_stays_live()
    {
        var power = new DevicePowerModel(1, 5, 1e-9, 1e-9);
        var specs = new Dictionary<string, DeviceSpec> { ["a"] = new("a", 3, 1, 500_000, power) };
        var source = PlannerPlanSource.Create(new AdaptiveOptions("greedy", Objective.Energy, specs), Profile);
        source.Attach("a", () => [new AgentSnapshot("a", "127.0.0.1:1", true, 0, Sample("a", 0.99, 0, []))], NullLogger.Instance);

        var device = source.BuildState(["a"]).Device("a");

        Assert.Equal(3, device.RelativeSpeed);
        Assert.Equal(power, device.Power);
        Assert.Equal(500_000, device.MemoryBudgetBytes);
        Assert.Equal(0.05, device.CpuAvailability, 6); // 99% busy, clamped at the floor so the cost stays finite
    }

    [Fact]
    public void Rl_chooses_again_at_once_when_its_plan_leaves_a_request_unanswered()
    {
        var source = PlannerPlanSource.Create(new AdaptiveOptions("rl", Objective.Latency) { RlWindowRequests = 50 }, Profile);
        IReadOnlyList<AgentSnapshot> view =
        [
            new("a", "127.0.0.1:1", true, 0, Sample("a", 0.1, 0)),
            new("b", "127.0.0.1:2", true, 0, Sample("b", 0.1, 0)),
        ];
        source.Attach("a", () => view, NullLogger.Instance);
        var first = source.Propose(new PlanRequest(1, 3, "a", ["a", "b"], new Dictionary<string, long>(), [], null, "start"));

        // Served requests inside the window change nothing; a timed-out attempt ends the window.
        Assert.Null(source.OnServed(new ServedObservation(first, 5, [], [])).Next);
        var next = source.OnTimedOut(first, waitedMs: 2500);

        Assert.NotNull(next);
        Assert.False(next.SamePlacement(first));
        // Other requests stuck on the old plan time out too: rl has moved on already and stays put.
        Assert.Null(source.OnTimedOut(first, waitedMs: 2500));
        Assert.Contains(source.Status().Recent, d => d.Switched && d.Detail.Contains("no answer within 2500 ms", StringComparison.Ordinal));
    }

    [Fact]
    public void A_timed_out_attempt_is_not_rl_business_for_the_other_planners()
    {
        var source = PlannerPlanSource.Create(new AdaptiveOptions("optimal", Objective.Latency), Profile);
        source.Attach("a", () => [new AgentSnapshot("a", "127.0.0.1:1", true, 0, Sample("a", 0.1, 0))], NullLogger.Instance);
        var plan = source.Propose(new PlanRequest(1, 3, "a", ["a"], new Dictionary<string, long>(), [], null, "start"));
        Assert.Null(source.OnTimedOut(plan, waitedMs: 2500));
    }

    [Fact]
    public void An_rl_exploration_gets_one_request_unless_it_comes_back_competitive()
    {
        int WindowsEndedIn30Requests(double exploration, Func<Plan, double> latencyMs)
        {
            var options = new AdaptiveOptions("rl", Objective.Latency) { RlWindowRequests = 3, Rl = new RlOptions(InitialExploration: exploration, MinExploration: exploration, Seed: 5) };
            var source = PlannerPlanSource.Create(options, Profile);
            IReadOnlyList<AgentSnapshot> view = [new("a", "127.0.0.1:1", true, 0, Sample("a", 0.1, 0)), new("b", "127.0.0.1:2", true, 0, Sample("b", 0.1, 0))];
            source.Attach("a", () => view, NullLogger.Instance);
            var plan = source.Propose(new PlanRequest(1, 3, "a", ["a", "b"], new Dictionary<string, long>(), [], null, "start"));
            var ended = 0;
            for (var i = 0; i < 30; i++)
            {
                var before = source.Status().Decisions;
                plan = source.OnServed(new ServedObservation(plan, latencyMs(plan), [], [])).Next ?? plan;
                ended += source.Status().Decisions > before ? 1 : 0;
            }
            return ended;
        }
        static double OnlyTheSourceIsFast(Plan plan) => plan.Stages.All(s => s.Device == "a") ? 1 : 500;

        // Never exploring: windows of 3 requests, so 10 choices in 30 requests.
        Assert.Equal(10, WindowsEndedIn30Requests(0, OnlyTheSourceIsFast));
        // Always exploring, and the explored plans are poor: each is dropped after one request, so choices come more often.
        Assert.InRange(WindowsEndedIn30Requests(1, OnlyTheSourceIsFast), 11, 30);
        // Always exploring, and every plan is as fast as the best: each exploration earns its whole window.
        Assert.Equal(10, WindowsEndedIn30Requests(1, _ => 1));
    }

    [Fact]
    public void Rl_counts_only_requests_of_the_plan_it_chose_and_follows_the_plan_really_deployed()
    {
        var options = new AdaptiveOptions("rl", Objective.Latency) { RlWindowRequests = 1, Rl = new RlOptions(InitialExploration: 0, MinExploration: 0) };
        var source = PlannerPlanSource.Create(options, Profile);
        IReadOnlyList<AgentSnapshot> view = [new("a", "127.0.0.1:1", true, 0, Sample("a", 0.1, 0)), new("b", "127.0.0.1:2", true, 0, Sample("b", 0.1, 0))];
        source.Attach("a", () => view, NullLogger.Instance);
        var chosen = source.Propose(new PlanRequest(1, 3, "a", ["a", "b"], new Dictionary<string, long>(), [], null, "start"));
        var other = ((RlPlanner)source.Planner).Candidates(source.BuildState(["a", "b"]), Objective.Latency).First(p => !p.SamePlacement(chosen));

        // A request still in flight on another plan (the one before a switch) does not end rl's window.
        var before = source.Status().Decisions;
        Assert.Null(source.OnServed(new ServedObservation(other, 5, [], [])).Next);
        Assert.Equal(before, source.Status().Decisions);

        // The switch to rl's choice failed and 'other' kept serving: rl follows it, so its requests count again.
        source.OnDeployed(other);
        source.OnServed(new ServedObservation(other, 5, [], []));
        Assert.Equal(before + 1, source.Status().Decisions);
    }
}
