using CsCheck;
using EdgeSplit.Graph;
using EdgeSplit.Graph.Tiling;
using EdgeSplit.Runtime;
using EdgeSplit.Tests;

namespace EdgeSplit.Planning.Tests;

public class TilePlanningTests
{
    [Fact]
    public void Optimal_with_tiles_equals_brute_force_over_layer_wise_and_tiled_plans()
    {
        var tiled = 0;
        Gen.Select(TileScenarios.SmallTiledState, Scenarios.AnyObjective).Sample((state, objective) =>
        {
            var model = new CostModel(correctionEnabled: false);
            var everyPlan = Scenarios.AllPlans(state).Concat(TileScenarios.AllTiledPlans(model, state));
            var matches = Scenarios.OptimalMatchesBruteForce(model, state, objective, everyPlan, out var plan);
            tiled += plan?.Stages[0].Tiles is null ? 0 : 1;
            return matches;
        }, iter: 100, threads: 1);
        // The random instances must make tiles win often enough for the comparison to mean something (about one in five).
        Assert.True(tiled >= 10, $"tiles won {tiled} of 100");
    }

    [Fact]
    public void Two_pis_share_the_early_layers_as_tiles_when_the_link_is_fast()
    {
        var model = new CostModel(correctionEnabled: false);
        // Gigabit Ethernet between the Pis (about 940 Mbit/s measured).
        var state = TileScenarios.TwoPis(bytesPerSecond: 117_500_000);

        var plan = new OptimalPlanner(model).Plan(state, Objective.Latency);
        var layerWise = new OptimalPlanner(model).Plan(state with { Profile = state.Profile with { Tiling = null } }, Objective.Latency);

        var tiles = plan.Stages[0].Tiles;
        Assert.NotNull(tiles);
        Assert.Equal(["pi1", "pi2"], tiles.Devices.Order());
        Assert.True(model.Estimate(state, plan).LatencyMs < 0.8 * model.Estimate(state, layerWise).LatencyMs, $"{plan} vs {layerWise}");
        // Equal devices get equal shares.
        Assert.Equal(tiles.Grid.RowWeights.Concat(tiles.Grid.ColumnWeights).Where(w => w != 1), []);
    }

    [Fact]
    public void Over_a_slow_link_the_plan_stays_layer_wise()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = TileScenarios.TwoPis(bytesPerSecond: 125_000);

        var plan = new OptimalPlanner(model).Plan(state, Objective.Latency);

        Assert.All(plan.Stages, s => Assert.Null(s.Tiles));
        Assert.Equal([new Stage("pi1", 0, state.Profile.NodeCount - 1)], plan.Stages);
    }

    [Fact]
    public void A_faster_device_gets_the_bigger_tile()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = TileScenarios.TwoPis(bytesPerSecond: 117_500_000).WithDevice("pi2", d => d with { RelativeSpeed = 3 });

        var tiles = new OptimalPlanner(model).Plan(state, Objective.Latency).Stages[0].Tiles;

        Assert.NotNull(tiles);
        var weights = tiles.Grid.Rows > 1 ? tiles.Grid.RowWeights : tiles.Grid.ColumnWeights;
        var share = tiles.Devices.Zip(weights).ToDictionary(p => p.First, p => p.Second);
        Assert.Equal(3.0, (double)share["pi2"] / share["pi1"], 2);
    }

    [Fact]
    public void A_tile_group_costs_its_slowest_tile_plus_the_transfers_plus_the_gather()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = TileScenarios.TwoPis(bytesPerSecond: 10_000_000, haloPerBorder: 0.1);
        const int cut = 3;
        var grid = TileGrid.Even(2, 1);
        var plan = new Plan(0, [new Stage("pi1", 0, cut, new TileGroup(grid, ["pi1", "pi2"])), new Stage("pi1", cut + 1, 11)]);

        var estimate = model.Estimate(state, plan);

        // Each tile: half the area plus 10 % for its one interior border.
        var prefixMs = 4 * 10.0;
        var tileMs = 0.5 * 1.1 * prefixMs;
        var sendMs = ((long)(602_112 * 0.55) * 1000.0 / 10_000_000) + 1;
        var returnMs = ((long)(state.Profile.CutBytes[cut] * 0.5) * 1000.0 / 10_000_000) + 1;
        var gatherMs = 2 * (long)(state.Profile.CutBytes[cut] * 0.5) * 1e-6;
        // Nodes 4..7 at 10 ms and 8..11 at 5 ms on pi1, the source: no hop back.
        var restMs = (4 * 10.0) + (4 * 5.0);
        var expected = Math.Max(tileMs, sendMs + tileMs + returnMs) + gatherMs + restMs;
        Assert.True(estimate.Feasible, estimate.InfeasibleReason);
        Assert.Equal(expected, estimate.LatencyMs, 6);
        Assert.Equal([tileMs + gatherMs, restMs], estimate.StageComputeMs);
        Assert.Equal(2, estimate.Hops.Count);
    }

    [Fact]
    public void Tile_groups_that_cannot_run_are_infeasible()
    {
        var model = new CostModel(correctionEnabled: false);
        var state = TileScenarios.TwoPis(bytesPerSecond: 10_000_000);
        var group = new TileGroup(TileGrid.Even(1, 2), ["pi1", "pi2"]);

        Assert.Contains("not tileable", model.Estimate(state, new Plan(0, [new Stage("pi1", 0, 9, group), new Stage("pi1", 10, 11)])).InfeasibleReason);
        Assert.Contains("first stage", model.Estimate(state, new Plan(0, [new Stage("pi1", 0, 3), new Stage("pi2", 4, 11, group)])).InfeasibleReason);
        Assert.Contains("unknown device", model.Estimate(state, new Plan(0, [new Stage("pi1", 0, 3, group with { Devices = ["pi1", "pi9"] }), new Stage("pi1", 4, 11)])).InfeasibleReason);
        Assert.Contains("two tiles", model.Estimate(state, new Plan(0, [new Stage("pi1", 0, 3, group with { Devices = ["pi2", "pi2"] }), new Stage("pi1", 4, 11)])).InfeasibleReason);
        Assert.Contains("3 tiles, 2 devices", model.Estimate(state, new Plan(0, [new Stage("pi1", 0, 3, group with { Grid = TileGrid.Even(3, 1) }), new Stage("pi1", 4, 11)])).InfeasibleReason);
        var coarse = state with { Profile = state.Profile with { Tiling = new TilingProfile(new FormulaTileGeometry([3], state.Profile, 0, maxTiles: 1), 0) } };
        Assert.Contains("too fine", model.Estimate(coarse, new Plan(0, [new Stage("pi1", 0, 3, group), new Stage("pi1", 4, 11)])).InfeasibleReason);
        Assert.False(model.Estimate(state with { Profile = state.Profile with { Tiling = null } }, new Plan(0, [new Stage("pi1", 0, 3, group), new Stage("pi1", 4, 11)])).Feasible);
    }

    [Fact]
    public void The_graph_geometry_of_a_real_model_makes_tiles_pay_on_two_fast_linked_devices()
    {
        var onnx = OnnxModel.FromProto(TileModels.OddStridedDilated(), "odd");
        var inputs = RandomInputs.Create(onnx, InputShapes.Resolve(onnx, null), seed: 1);
        var tiling = TileProfiler.Build(onnx, inputs);
        var analysis = SpatialAnalysis.Analyse(onnx, InputShapes.Resolve(onnx, null));
        var n = onnx.Nodes.Count;
        // Node times from their FLOPs (1 ms per MFLOP), cut sizes from the maps' shapes: cost-model inputs, no timing.
        var ms = Enumerable.Range(0, n).Select(i => i < analysis.PrefixEnd ? (analysis.PrefixFlops(i) - (i > 0 ? analysis.PrefixFlops(i - 1) : 0)) / 1e6 : 0.01).ToArray();
        var cutBytes = onnx.Cuts.Select(c => c.Tensors.Sum(t => analysis.SpatialShape(t) is { } s ? s.Aggregate(4L, (a, d) => a * d) : 32)).ToArray();
        var profile = new SegmentProfile(ms, [.. Enumerable.Repeat(1000L, n)], cutBytes, inputs[0].ByteCount, 32, Tiling: tiling);
        var state = new PlanningState(
            [new DeviceSpec("a", 1, 1, 1L << 30, Scenarios.PiPower), new DeviceSpec("b", 1, 1, 1L << 30, Scenarios.PiPower)],
            PlanningState.FullMesh(["a", "b"], 1e9, 0.1), profile, "a");

        var plan = new OptimalPlanner(new CostModel()).Plan(state, Objective.Latency);

        Assert.True(tiling.GatherReferenceMsPerByte > 0);
        Assert.NotNull(plan.Stages[0].Tiles);
        Assert.NotNull(TileLayout.TryCompute(analysis, plan.Stages[0].LastNode, plan.Stages[0].Tiles!.Grid, out _));
    }
}
