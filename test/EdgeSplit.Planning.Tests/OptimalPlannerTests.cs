using CsCheck;

namespace EdgeSplit.Planning.Tests;

public class OptimalPlannerTests
{
    private static bool Close(double a, double b) => Scenarios.Close(a, b);

    [Fact]
    public void Dp_equals_brute_force_on_random_instances()
    {
        Gen.Select(Scenarios.SmallState, Scenarios.AnyObjective).Sample((state, objective) =>
        {
            var model = new CostModel(correctionEnabled: false);
            return Scenarios.OptimalMatchesBruteForce(model, state, objective, Scenarios.AllPlans(state), out _);
        }, iter: 400);
    }

    [Fact]
    public void Dp_equals_brute_force_with_learned_correction_factors()
    {
        Gen.Select(Scenarios.SmallState, Gen.Double[0.2, 5].Array[8]).Sample((state, factors) =>
        {
            var model = new CostModel(smoothing: 1);
            var single = new Plan(0, [new Stage(state.Devices[0].Name, 0, state.Profile.NodeCount - 1)]);
            // Teach the model that the first device is factors[0] times slower than profiled.
            var raw = CostModel.RawComputeMs(state, state.Devices[0], 0, state.Profile.NodeCount - 1);
            model.Observe(state, single, [raw * factors[0]], [.. state.Links.Take(7).Select((l, i) => new HopObservation(l.From, l.To, 1000, CostModel.RawTransferMs(state, l.From, l.To, 1000) * factors[i + 1]))]);
            var brute = Scenarios.AllPlans(state).Select(p => model.Estimate(state, p)).Where(e => e.Feasible).Select(e => e.LatencyMs).DefaultIfEmpty(double.PositiveInfinity).Min();
            try
            {
                var plan = new OptimalPlanner(model).Plan(state, Objective.Latency);
                return Close(model.Estimate(state, plan).LatencyMs, brute);
            }
            catch (NoFeasiblePlanException)
            {
                return double.IsPositiveInfinity(brute);
            }
        }, iter: 200);
    }

    [Fact]
    public void A_memory_limit_is_never_exceeded_by_any_planner()
    {
        Gen.Select(Scenarios.SmallState, Scenarios.AnyObjective).Sample((state, objective) =>
        {
            var model = new CostModel(correctionEnabled: false);
            foreach (var planner in new IPlanner[] { new OptimalPlanner(model), new GreedyPlanner(model), new RlPlanner(model, new RlOptions(RandomPerturbations: 2)) })
            {
                Plan plan;
                try
                {
                    plan = planner.Plan(state, objective);
                }
                catch (NoFeasiblePlanException)
                {
                    continue;
                }
                foreach (var stage in plan.Stages)
                {
                    var bytes = Enumerable.Range(stage.FirstNode, stage.LastNode - stage.FirstNode + 1).Sum(i => state.Profile.NodeMemoryBytes[i]);
                    if (bytes > state.Device(stage.Device).MemoryBudgetBytes) return false;
                }
            }
            return true;
        }, iter: 300);
    }

    [Fact]
    public void All_work_stays_on_the_source_when_the_uplink_collapses()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = Scenarios.EdgeTrio();
        foreach (var objective in new[] { Objective.Latency, Objective.Throughput, Objective.Weighted(50) })
        {
            var healthy = new OptimalPlanner(model).Plan(state, objective);
            Assert.Contains(healthy.Stages, s => s.Device != "pi");

            // 10 kB/s out of the Pi: shipping any tensor costs more than computing everything locally.
            var collapsed = state with { Links = [.. state.Links.Select(l => l.From == "pi" ? l with { BytesPerSecond = 10_000 } : l)] };
            foreach (var planner in new IPlanner[] { new OptimalPlanner(model), new GreedyPlanner(model) })
            {
                var plan = planner.Plan(collapsed, objective);
                Assert.Equal([new Stage("pi", 0, state.Profile.NodeCount - 1)], plan.Stages);
            }
        }
    }

    [Fact]
    public void At_a_camera_frame_rate_a_plan_that_cannot_keep_up_ranks_last()
    {
        var model = new CostModel(correctionEnabled: false);
        // Two layers of 100 ms on two equal devices, a 100 kB cut over 12.5 MB/s (8 ms + 2 ms RTT):
        // the camera alone answers a frame sooner (200 ms against ~210), but only the split keeps up with a frame every 150 ms.
        var state = new PlanningState(
            [new DeviceSpec("camera", 1, 1, 1L << 31, Scenarios.PiPower), new DeviceSpec("jetson", 1, 1, 1L << 31, Scenarios.JetsonPower)],
            PlanningState.FullMesh(["camera", "jetson"], 12_500_000, 2),
            new SegmentProfile([100.0, 100], [1_000L, 1_000], [100_000L], 602_112, 4),
            "camera");
        var alone = new Plan(0, [new Stage("camera", 0, 1)]);
        var split = new Plan(0, [new Stage("camera", 0, 0), new Stage("jetson", 1, 1)]);
        Assert.True(model.Estimate(state, alone).LatencyMs < model.Estimate(state, split).LatencyMs);

        var camera = Objective.Latency with { FrameIntervalMs = 150 };
        Assert.True(model.Estimate(state, split).Value(camera) < model.Estimate(state, alone).Value(camera));
        foreach (var planner in new IPlanner[] { new OptimalPlanner(model), new GreedyPlanner(model) })
        {
            Assert.True(planner.Plan(state, Objective.Latency).SamePlacement(alone), planner.Name);
            Assert.True(planner.Plan(state, camera).SamePlacement(split), planner.Name);
            // When nothing keeps up (a frame every 50 ms), the plan that answers the most frames: the shorter slowest stage.
            Assert.True(planner.Plan(state, Objective.Latency with { FrameIntervalMs = 50 }).SamePlacement(split), planner.Name);
        }
    }

    [Fact]
    public void Work_moves_off_a_device_whose_cpu_is_taken()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = Scenarios.EdgeTrio();
        int NodesOn(Plan plan, string device) => plan.Stages.Where(s => s.Device == device).Sum(s => s.LastNode - s.FirstNode + 1);

        foreach (var planner in new IPlanner[] { new OptimalPlanner(model), new GreedyPlanner(model) })
        {
            var before = planner.Plan(state, Objective.Latency);
            Assert.True(NodesOn(before, "laptop") > 0, before.ToString());
            var busy = state.WithDevice("laptop", d => d with { CpuAvailability = 0.03 });
            var after = planner.Plan(busy, Objective.Latency);
            Assert.True(NodesOn(after, "laptop") < NodesOn(before, "laptop"), $"{before} -> {after}");
        }
    }

    [Fact]
    public void A_stage_too_big_for_every_device_means_no_feasible_plan()
    {
        var state = Scenarios.EdgeTrio();
        var tiny = state with { Devices = [.. state.Devices.Select(d => d with { MemoryBudgetBytes = 100_000 })] };
        Assert.Throws<NoFeasiblePlanException>(() => new OptimalPlanner(new CostModel()).Plan(tiny, Objective.Latency));
        Assert.Throws<NoFeasiblePlanException>(() => new GreedyPlanner(new CostModel()).Plan(tiny, Objective.Latency));
    }

    [Fact]
    public void Tight_memory_forces_a_split_that_fits()
    {
        var state = Scenarios.EdgeTrio(20);
        var total = state.Profile.NodeMemoryBytes.Sum();
        // No device can hold the whole model, so at least two stages are needed.
        var tight = state with { Devices = [.. state.Devices.Select(d => d with { MemoryBudgetBytes = (total * 6) / 10 })] };
        var plan = new OptimalPlanner(new CostModel()).Plan(tight, Objective.Latency);
        Assert.True(plan.Stages.Count >= 2, plan.ToString());
        Assert.True(new CostModel().Estimate(tight, plan).Feasible);
    }

    [Fact]
    public void Greedy_is_never_better_than_optimal()
    {
        Gen.Select(Scenarios.SmallState, Scenarios.AnyObjective).Sample((state, objective) =>
        {
            var model = new CostModel(correctionEnabled: false);
            try
            {
                var greedy = model.Estimate(state, new GreedyPlanner(model).Plan(state, objective)).Value(objective);
                var optimal = model.Estimate(state, new OptimalPlanner(model).Plan(state, objective)).Value(objective);
                return optimal <= greedy || Close(optimal, greedy);
            }
            catch (NoFeasiblePlanException)
            {
                return true;
            }
        }, iter: 200);
    }
}
