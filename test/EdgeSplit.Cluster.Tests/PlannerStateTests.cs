using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Planning;

namespace EdgeSplit.Cluster.Tests;

/// <summary>How the adaptive plan sources turn the coordinator's live view into planning states and decisions (no network needed).</summary>
public sealed class PlannerStateTests
{
    private static readonly SegmentProfile Profile = new([1, 1, 1], [10, 10, 10], [100, 100], 100, 100);

    private static DeviceSample Sample(string name, double cpu, double ownCpu, params LinkSample[] links) =>
        new(name, DateTimeOffset.UtcNow, cpu, [cpu], 1_000_000, 2_000_000, ownCpu, 0, 0, 0, double.NaN, double.NaN, double.NaN, true, links, 0, 0);

    private static PlanRequest Request(IReadOnlyList<AgentSnapshot> view, Plan? current = null, string reason = "start") =>
        new(1, 3, "a", [.. view.Where(a => a.Alive).Select(a => a.Name)], new Dictionary<string, long>(), [], current, reason) { Agents = view };

    private static readonly IReadOnlyList<AgentSnapshot> TwoDevices = [new("a", "127.0.0.1:1", true, 0, Sample("a", 0.1, 0)), new("b", "127.0.0.1:2", true, 0, Sample("b", 0.1, 0))];

    [Fact]
    public void Tile_groups_are_weighed_only_while_few_enough_devices_are_live_for_a_fast_tick()
    {
        var tiled = Profile with { Tiling = new TilingProfile(new NoTiles(), 0) };
        var builder = new PlanningStateBuilder(new AdaptiveOptions("optimal", Objective.Latency) { MaxTiledDevices = 2 }, tiled);
        IReadOnlyList<AgentSnapshot> three = [.. TwoDevices, new("c", "127.0.0.1:3", true, 0, Sample("c", 0.1, 0))];

        Assert.NotNull(builder.Build(Request(TwoDevices)).Profile.Tiling);
        Assert.Null(builder.Build(Request(three)).Profile.Tiling);
        // A device leaving brings the tiles back into the choice.
        Assert.NotNull(builder.Build(Request([three[0], three[1], three[2] with { Alive = false }])).Profile.Tiling);
    }

    /// <summary>A geometry with no tileable cut: the test only checks whether the state carries one.</summary>
    private sealed class NoTiles : ITileGeometry
    {
        public IReadOnlyList<int> TileableCuts => [];

        public TileGroupShape? Shape(int cut, EdgeSplit.Graph.Tiling.TileGrid grid) => null;
    }

    [Fact]
    public void Measured_links_win_and_configured_links_fill_in_before_any_traffic()
    {
        var configured = new LinkSpec("b", "a", 5e5, 40);
        var builder = new PlanningStateBuilder(new AdaptiveOptions("optimal", Objective.Latency) { Links = [configured], DefaultBytesPerSecond = 7e6, DefaultRttMs = 3 }, Profile);
        IReadOnlyList<AgentSnapshot> view =
        [
            new("a", "127.0.0.1:1", true, 0, Sample("a", 0.2, 0.1, new LinkSample("127.0.0.1:2", 2.5, 9e6), new LinkSample("127.0.0.1:3", double.NaN, 0))),
            new("b", "127.0.0.1:2", true, 0, Sample("b", 0.0, 0.0, new LinkSample("127.0.0.1:1", double.NaN, 0))),
            new("c", "127.0.0.1:3", true, 0, null),
        ];

        var state = builder.Build(Request(view));

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
        var builder = new PlanningStateBuilder(new AdaptiveOptions("greedy", Objective.Energy, specs), Profile);

        var device = builder.Build(Request([new AgentSnapshot("a", "127.0.0.1:1", true, 0, Sample("a", 0.99, 0, []))])).Device("a");

        Assert.Equal(3, device.RelativeSpeed);
        Assert.Equal(power, device.Power);
        Assert.Equal(500_000, device.MemoryBudgetBytes);
        Assert.Equal(0.05, device.CpuAvailability, 6); // 99% busy, clamped at the floor so the cost stays finite
    }

    [Fact]
    public void With_the_source_device_dead_the_state_starts_at_a_live_device()
    {
        var builder = new PlanningStateBuilder(new AdaptiveOptions("optimal", Objective.Latency), Profile);
        IReadOnlyList<AgentSnapshot> view = [new("a", "127.0.0.1:1", false, 0, null), new("b", "127.0.0.1:2", true, 0, null)];

        var state = builder.Build(Request(view));

        Assert.Equal("b", state.SourceDevice);
        Assert.Equal(["b"], state.Devices.Select(d => d.Name));
    }

    [Fact]
    public void Rl_and_the_policy_are_two_plan_sources_behind_one_factory()
    {
        Assert.IsType<RlPlanSource>(AdaptivePlanSource.Create(new AdaptiveOptions("rl", Objective.Latency), Profile));
        Assert.IsType<PolicyPlanSource>(AdaptivePlanSource.Create(new AdaptiveOptions("optimal", Objective.Latency), Profile));
    }

    [Fact]
    public void Rl_chooses_again_at_once_when_its_plan_leaves_a_request_unanswered()
    {
        using var source = AdaptivePlanSource.Create(new AdaptiveOptions("rl", Objective.Latency) { RlWindowRequests = 50 }, Profile);
        var first = source.Propose(Request(TwoDevices)).Plan;

        // Served requests inside the window change nothing; a timed-out attempt ends the window.
        Assert.Null(source.OnServed(new ServedObservation(first, 5, [], []), Request(TwoDevices)).Next);
        var next = source.OnTimedOut(first, TimeSpan.FromMilliseconds(2500), Request(TwoDevices));

        Assert.NotNull(next);
        Assert.True(next.Decision!.Switched);
        Assert.False(next.Plan.SamePlacement(first));
        Assert.Contains("no answer within 2500 ms", next.Decision.Detail, StringComparison.Ordinal);
        // Other requests stuck on the old plan time out too: rl has moved on already and stays put.
        Assert.Null(source.OnTimedOut(first, TimeSpan.FromMilliseconds(2500), Request(TwoDevices)));
    }

    [Fact]
    public void A_timed_out_attempt_is_not_rl_business_for_the_other_planners()
    {
        using var source = AdaptivePlanSource.Create(new AdaptiveOptions("optimal", Objective.Latency), Profile);
        var plan = source.Propose(Request([TwoDevices[0]])).Plan;
        Assert.Null(source.OnTimedOut(plan, TimeSpan.FromMilliseconds(2500), Request([TwoDevices[0]])));
    }

    [Fact]
    public void An_rl_exploration_gets_one_request_unless_it_comes_back_competitive()
    {
        int WindowsEndedIn30Requests(double exploration, Func<Plan, double> latencyMs)
        {
            var options = new AdaptiveOptions("rl", Objective.Latency) { RlWindowRequests = 3, Rl = new RlOptions(InitialExploration: exploration, MinExploration: exploration, Seed: 5) };
            using var source = AdaptivePlanSource.Create(options, Profile);
            var plan = source.Propose(Request(TwoDevices)).Plan;
            var ended = 0;
            for (var i = 0; i < 30; i++)
            {
                if (source.OnServed(new ServedObservation(plan, latencyMs(plan), [], []), Request(TwoDevices)).Next is { } next)
                {
                    ended++;
                    plan = next.Plan;
                }
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
        using var source = AdaptivePlanSource.Create(options, Profile);
        var chosen = source.Propose(Request(TwoDevices)).Plan;
        var other = ((RlPlanner)source.Planner).Candidates(source.LastState!, Objective.Latency).First(p => !p.SamePlacement(chosen));

        // A request still in flight on another plan (the one before a switch) does not end rl's window.
        Assert.Null(source.OnServed(new ServedObservation(other, 5, [], []), Request(TwoDevices)).Next);

        // The switch to rl's choice failed and 'other' kept serving: rl follows it, so its requests count again.
        source.OnDeployed(other, TimeSpan.Zero);
        Assert.NotNull(source.OnServed(new ServedObservation(other, 5, [], []), Request(TwoDevices)).Next);
    }
}
