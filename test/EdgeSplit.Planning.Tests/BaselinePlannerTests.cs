namespace EdgeSplit.Planning.Tests;

public class BaselinePlannerTests
{
    [Fact]
    public void Static_keeps_its_first_plan_when_conditions_change()
    {
        var registry = new PlannerRegistry(new CostModel(correctionEnabled: false));
        var planner = registry.Create("static");
        var state = Scenarios.EdgeTrio();
        var first = planner.Plan(state, Objective.Latency);
        var busy = state.WithDevice("laptop", d => d with { CpuAvailability = 0.03 });
        Assert.True(planner.Plan(busy, Objective.Latency).SamePlacement(first));
        Assert.False(registry.Create("optimal").Plan(busy, Objective.Latency).SamePlacement(first));
    }

    [Fact]
    public void Oracle_plans_on_the_recorded_truth_of_the_window()
    {
        var state = Scenarios.EdgeTrio();
        var busy = state.WithDevice("laptop", d => d with { CpuAvailability = 0.03 });
        var truth = new[]
        {
            new ConditionWindow(TimeSpan.Zero, TimeSpan.FromSeconds(10), state),
            new ConditionWindow(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20), busy),
        };
        var oracle = new PlannerRegistry(new CostModel()).Create("oracle", truth);
        var optimal = new OptimalPlanner(new CostModel(correctionEnabled: false));
        // The state handed in is stale; the oracle still knows the laptop was busy at t = 15 s.
        Assert.True(oracle.Plan(state with { Elapsed = TimeSpan.FromSeconds(15) }, Objective.Latency).SamePlacement(optimal.Plan(busy, Objective.Latency)));
        Assert.True(oracle.Plan(state with { Elapsed = TimeSpan.FromSeconds(5) }, Objective.Latency).SamePlacement(optimal.Plan(state, Objective.Latency)));
    }

    [Fact]
    public void Registry_knows_every_planner_by_name_and_rejects_others()
    {
        var registry = new PlannerRegistry(new CostModel());
        foreach (var name in PlannerRegistry.Names.Where(n => n != "oracle"))
        {
            Assert.Equal(name, registry.Create(name).Name);
        }
        Assert.Throws<EdgeSplit.Graph.BadInputException>(() => registry.Create("oracle"));
        Assert.Throws<EdgeSplit.Graph.BadInputException>(() => registry.Create("magic"));
        Assert.Throws<EdgeSplit.Graph.BadInputException>(() => Objective.Parse("speed"));
        Assert.Equal(ObjectiveKind.Weighted, Objective.Parse("weighted").Kind);
    }
}
