namespace EdgeSplit.Planning.Tests;

public class CostModelTests
{
    // Two devices, two nodes: every figure below follows from the definitions by hand.
    private static PlanningState Pair() => new(
        [
            new DeviceSpec("src", 1, 1, 1000, new DevicePowerModel(1, 3, 1e-6, 2e-6)),
            new DeviceSpec("far", 4, 0.5, 1000, new DevicePowerModel(2, 12, 3e-6, 4e-6)),
        ],
        [new LinkSpec("src", "far", 1_000_000, 5), new LinkSpec("far", "src", 500_000, 7)],
        new SegmentProfile([10, 40], [100, 200], [20_000], 50_000, 1_000),
        "src");

    [Fact]
    public void Latency_adds_upload_compute_hops_and_return()
    {
        var state = Pair();
        var plan = Plan.FromCuts(0, 2, [0], ["src", "far"]);
        var estimate = new CostModel().Estimate(state, plan);
        var srcMs = 10.0;
        var farMs = 40.0 / 4 / 0.5;
        var hopMs = (20_000 / 1_000_000.0 * 1000) + 5;
        var backMs = (1_000 / 500_000.0 * 1000) + 7;
        Assert.Equal(srcMs + farMs + hopMs + backMs, estimate.LatencyMs, 9);
        Assert.Equal(Math.Max(Math.Max(srcMs, farMs), Math.Max(hopMs, backMs)), estimate.BottleneckMs, 9);
        Assert.Equal(1000 / estimate.BottleneckMs, estimate.ThroughputPerS, 9);
        var energy = (2 * srcMs / 1000) + (10 * farMs / 1000) + (20_000 * (1e-6 + 4e-6)) + (1_000 * (3e-6 + 2e-6));
        Assert.Equal(energy, estimate.EnergyJ, 12);
    }

    [Fact]
    public void Starting_away_from_the_source_pays_the_upload()
    {
        var state = Pair();
        var local = new CostModel().Estimate(state, Plan.FromCuts(0, 2, [], ["far"]));
        var uploadMs = (50_000 / 1_000_000.0 * 1000) + 5;
        var backMs = (1_000 / 500_000.0 * 1000) + 7;
        Assert.Equal(uploadMs + (50.0 / 4 / 0.5) + backMs, local.LatencyMs, 9);
        Assert.Equal(2, local.Hops.Count);
    }

    [Fact]
    public void Plans_that_exceed_memory_or_lack_a_link_are_infeasible()
    {
        var state = Pair();
        var model = new CostModel();
        Assert.False(model.Estimate(state.WithDevice("far", d => d with { MemoryBudgetBytes = 150 }), Plan.FromCuts(0, 2, [0], ["src", "far"])).Feasible);
        Assert.False(model.Estimate(state with { Links = [state.Links[0]] }, Plan.FromCuts(0, 2, [0], ["src", "far"])).Feasible);
        Assert.False(model.Estimate(state, new Plan(0, [new Stage("src", 0, 0), new Stage("src", 1, 1)])).Feasible);
        Assert.True(model.Estimate(state, Plan.FromCuts(0, 2, [], ["src"])).Feasible);
    }

    [Fact]
    public void Observations_pull_factors_toward_what_was_measured()
    {
        var state = Pair();
        var plan = Plan.FromCuts(0, 2, [0], ["src", "far"]);
        var model = new CostModel(smoothing: 0.5);
        var predicted = model.Estimate(state, plan);
        for (var i = 0; i < 30; i++)
        {
            // The far device is really three times slower and the link twice as slow as described.
            model.Observe(state, plan, [predicted.StageComputeMs[0], predicted.StageComputeMs[1] * 3], [.. predicted.Hops.Select(h => new HopObservation(h.From, h.To, h.Bytes, h.Ms * 2))]);
        }
        Assert.Equal(1, model.DeviceFactor("src"), 6);
        Assert.Equal(3, model.DeviceFactor("far"), 6);
        Assert.Equal(2, model.LinkFactor("src", "far"), 6);
        var corrected = model.Estimate(state, plan);
        Assert.Equal(predicted.StageComputeMs[1] * 3, corrected.StageComputeMs[1], 6);
    }

    [Fact]
    public void Observations_change_nothing_when_correction_is_off()
    {
        var state = Pair();
        var plan = Plan.FromCuts(0, 2, [0], ["src", "far"]);
        var model = new CostModel(correctionEnabled: false);
        var before = model.Estimate(state, plan);
        model.Observe(state, plan, [100, 100], [new HopObservation("src", "far", 20_000, 500)]);
        Assert.Equal(1, model.DeviceFactor("far"));
        Assert.Equal(before.LatencyMs, model.Estimate(state, plan).LatencyMs);
    }

    [Fact]
    public void Measured_per_device_times_override_the_reference_scaling()
    {
        var state = Pair();
        var measured = state with { Profile = state.Profile.WithDeviceTimes("far", [1, 2]) };
        var estimate = new CostModel().Estimate(measured, Plan.FromCuts(0, 2, [0], ["src", "far"]));
        Assert.Equal(2 / 0.5, estimate.StageComputeMs[1], 9);
    }
}
