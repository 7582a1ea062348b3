namespace EdgeSplit.Planning.Tests;

public class AdaptationPolicyTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    /// <summary>The bandwidth at which keeping work on the Pi and offloading to the laptop cost the same.</summary>
    private static double TieBandwidth(PlanningState state, CostModel model)
    {
        double lo = 1_000, hi = 1e9;
        for (var i = 0; i < 100; i++)
        {
            var mid = Math.Sqrt(lo * hi);
            var plan = new OptimalPlanner(model).Plan(WithUplink(state, mid), Objective.Latency);
            if (plan.Stages.Count == 1 && plan.Stages[0].Device == "pi") lo = mid;
            else hi = mid;
        }
        return hi;
    }

    private static PlanningState WithUplink(PlanningState state, double bytesPerSecond) =>
        state with { Links = [.. state.Links.Select(l => l.From == "pi" ? l with { BytesPerSecond = bytesPerSecond } : l)] };

    private static int Flaps(AdaptationOptions options)
    {
        var model = new CostModel(correctionEnabled: false);
        var state = Scenarios.EdgeTrio();
        var tie = TieBandwidth(state, model);
        var policy = new AdaptationPolicy(new OptimalPlanner(model), model, Objective.Latency, options);
        var random = new Random(7);
        for (var t = 0; t < 300; t++)
        {
            // Measurements jitter +-5 % around the point where the best plan changes.
            var measured = tie * (0.95 + (0.1 * random.NextDouble()));
            policy.Decide(WithUplink(state, measured) with { Elapsed = t * Tick });
        }
        return (int)policy.Switches - 1;
    }

    [Fact]
    public void No_flapping_when_measurements_jitter_around_a_threshold()
    {
        // Threshold 0: the planner sees every jitter; hysteresis, dwell and switch cost alone must hold.
        var flaps = Flaps(AdaptationOptions.Default with { ReplanThreshold = 0 });
        Assert.True(flaps <= 1, $"{flaps} flaps");
    }

    [Fact]
    public void Without_hysteresis_dwell_or_switch_cost_the_same_jitter_flaps()
    {
        // The control for the test above: the jitter is enough to flip the planner's choice.
        Assert.True(Flaps(new AdaptationOptions(0, 1, 0, TimeSpan.Zero)) > 10);
    }

    [Fact]
    public void A_large_change_switches_and_logs_why()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = Scenarios.EdgeTrio();
        var policy = new AdaptationPolicy(new OptimalPlanner(model), model, Objective.Latency, AdaptationOptions.Default);
        var first = policy.Decide(state);
        Assert.Equal(AdaptationReason.Initial, first.Reason);

        var same = policy.Decide(state with { Elapsed = TimeSpan.FromSeconds(1) });
        Assert.False(same.Switched);
        Assert.Equal(AdaptationReason.ConditionsUnchanged, same.Reason);

        var busy = state.WithDevice("laptop", d => d with { CpuAvailability = 0.03 });
        var early = policy.Decide(busy with { Elapsed = TimeSpan.FromSeconds(2) });
        Assert.False(early.Switched);
        Assert.Equal(AdaptationReason.Dwell, early.Reason);

        var later = policy.Decide(busy with { Elapsed = TimeSpan.FromSeconds(30) });
        Assert.True(later.Switched, later.Detail);
        Assert.Equal(AdaptationReason.Worthwhile, later.Reason);
        Assert.True(later.PredictedGain > AdaptationOptions.Default.SwitchCost);
        Assert.True(later.OldPlan!.SamePlacement(first.Plan));
        Assert.Equal(1, policy.Counts[AdaptationReason.Worthwhile]);
        Assert.Equal(1, policy.Counts[AdaptationReason.Dwell]);
        Assert.Equal(1, policy.Counts[AdaptationReason.Initial]);
        Assert.Equal(1, policy.Counts[AdaptationReason.ConditionsUnchanged]);
    }

    [Fact]
    public void After_a_failed_switch_the_policy_follows_the_plan_really_deployed()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = Scenarios.EdgeTrio();
        var policy = new AdaptationPolicy(new OptimalPlanner(model), model, Objective.Latency, AdaptationOptions.Default with { MinDwell = TimeSpan.Zero });
        var first = policy.Decide(state);
        var busy = state.WithDevice("laptop", d => d with { CpuAvailability = 0.03 }) with { Elapsed = TimeSpan.FromSeconds(30) };
        var moved = policy.Decide(busy);
        Assert.True(moved.Switched, moved.Detail);

        // The deploy of the new plan failed: the first plan still serves, and the policy must know it.
        policy.Deployed(first.Plan, busy.Elapsed);

        Assert.True(policy.Current!.SamePlacement(first.Plan));
        var again = policy.Decide(busy with { Elapsed = TimeSpan.FromSeconds(31) });
        Assert.True(again.Switched, $"{again.Reason}: {again.Detail}");
        Assert.True(again.OldPlan!.SamePlacement(first.Plan));
    }

    /// <summary>Test double: counts how often the policy asks the real planner inside it.</summary>
    private sealed class CountingPlanner(IPlanner inner) : IPlanner
    {
        public int Calls { get; private set; }

        public string Name => inner.Name;

        public Plan Plan(PlanningState state, Objective objective)
        {
            Calls++;
            return inner.Plan(state, objective);
        }
    }

    [Fact]
    public void Small_moves_do_not_trigger_replanning_with_a_counting_planner_double()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = Scenarios.EdgeTrio();
        var planner = new CountingPlanner(new OptimalPlanner(model));
        var policy = new AdaptationPolicy(planner, model, Objective.Latency, AdaptationOptions.Default);
        policy.Decide(state);
        for (var t = 1; t <= 20; t++)
        {
            // 2 % wobble in CPU and bandwidth: below the 5 % re-plan threshold.
            var wobble = 1 + (0.02 * Math.Sin(t));
            policy.Decide(state.WithDevice("jetson", d => d with { CpuAvailability = 0.9 * wobble }) with
            {
                Links = [.. state.Links.Select(l => l with { BytesPerSecond = l.BytesPerSecond * wobble })],
                Elapsed = TimeSpan.FromSeconds(t),
            });
        }
        Assert.Equal(2, planner.Calls);
        Assert.Equal(19, policy.Counts[AdaptationReason.ConditionsUnchanged]);
        policy.Decide(state.WithDevice("jetson", d => d with { CpuAvailability = 0.5 }) with { Elapsed = TimeSpan.FromSeconds(30) });
        Assert.Equal(3, planner.Calls);
    }

    [Fact]
    public void With_no_threshold_the_planner_is_asked_every_time_and_may_choose_the_same_plan()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = Scenarios.EdgeTrio();
        var policy = new AdaptationPolicy(new OptimalPlanner(model), model, Objective.Latency, AdaptationOptions.Default with { ReplanThreshold = 0 });
        policy.Decide(state);
        var again = policy.Decide(state with { Elapsed = TimeSpan.FromSeconds(1) });
        Assert.Equal(AdaptationReason.SamePlan, again.Reason);
    }

    [Fact]
    public void A_small_gain_does_not_pay_for_the_switch()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = Scenarios.EdgeTrio();
        var expensive = AdaptationOptions.Default with { SwitchCost = 1e9, HysteresisFraction = 0 };
        var policy = new AdaptationPolicy(new OptimalPlanner(model), model, Objective.Latency, expensive);
        policy.Decide(state);
        var decision = policy.Decide(state.WithDevice("laptop", d => d with { CpuAvailability = 0.03 }) with { Elapsed = TimeSpan.FromMinutes(5) });
        Assert.False(decision.Switched);
        Assert.Equal(AdaptationReason.GainBelowSwitchCost, decision.Reason);
    }

    [Fact]
    public void A_plan_whose_device_vanished_is_replaced_at_once()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = Scenarios.EdgeTrio();
        var policy = new AdaptationPolicy(new OptimalPlanner(model), model, Objective.Latency, AdaptationOptions.Default);
        var first = policy.Decide(state);
        var gone = first.Plan.Stages.First(s => s.Device != "pi").Device;
        var without = state with { Devices = [.. state.Devices.Where(d => d.Name != gone)], Links = [.. state.Links.Where(l => l.From != gone && l.To != gone)], Elapsed = TimeSpan.FromSeconds(1) };
        var decision = policy.Decide(without);
        Assert.True(decision.Switched);
        Assert.Equal(AdaptationReason.CurrentInfeasible, decision.Reason);
        Assert.DoesNotContain(decision.Plan.Stages, s => s.Device == gone);
    }
}
