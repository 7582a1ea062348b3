using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Graph;
using EdgeSplit.Graph.Tiling;
using EdgeSplit.Tests;

namespace EdgeSplit.Cluster.Tests;

/// <summary>
/// A plan whose first stage is a tile group, served by real agents on loopback: dev0 (the source)
/// scatters each frame's strips to dev0, dev1 and dev2, each runs its strip of the prefix, dev0
/// gathers and runs the rest. Outputs are checked against the monolithic model (1e-4, as verify).
/// </summary>
public sealed class TileServingTests
{
    private static readonly TileGrid Strips = TileGrid.Even(3, 1);

    /// <summary>The last tileable cut that leaves layers after it (the residual block and the 1x1 conv's input).</summary>
    private static int TileCut(byte[] model)
    {
        var onnx = OnnxModel.Parse(model, "test");
        var analysis = SpatialAnalysis.Analyse(onnx, new Dictionary<string, long[]> { ["x"] = Reference.InputShape });
        return analysis.TileableCuts.Where(c => c < onnx.Nodes.Count - 1 && TileLayout.TryCompute(analysis, c, Strips, out _) is not null).Max();
    }

    [Fact]
    public async Task Tiled_plan_over_three_agents_answers_two_hundred_requests_at_concurrency_8_like_one_device()
    {
        var model = SmallModels.Residual();
        var cut = TileCut(model);
        await using var cluster = await TestCluster.StartAsync(model, 3, source: new FixedTilesPlanSource(cut, Strips));
        var run = await LoadTests.RunLoadAsync(cluster, model, onCompleted: null);
        Assert.Empty(run.Failures);
        Assert.Equal(200, run.Results.Count);
        var status = cluster.Coordinator!.Status();
        Assert.Equal(200, status.Completed);
        Assert.Equal(0, status.Failed);
        // Every answer on the first plan went through the scatter, the three tiles and the gather: the hops say where each part ran.
        // (A loaded host can make a probe miss and regroup the tiles for a while; those answers are checked against the model all the same.)
        var first = run.Results.Values.Where(r => r.PlanVersion == 1).ToList();
        Assert.NotEmpty(first);
        foreach (var result in first)
        {
            var computed = result.Hops.Where(h => h.ComputeMs > 0).Select(h => (h.Hop, h.Device)).ToHashSet();
            Assert.Equal([(0, "dev0"), (1, "dev0"), (2, "dev1"), (3, "dev2"), (4, "dev0"), (5, "dev0")], computed.Order());
            // The gather on dev0 took one part from each tile's device, and says so for each transfer.
            Assert.Equal(["dev0", "dev1", "dev2"], result.Hops.Where(h => h.Hop == 4).Select(h => h.FromDevice).Order());
        }
        // The plan travels with its tile group over the wire.
        using var client = new ClusterClient(cluster.Coordinator.Address);
        var (plan, _) = await client.GetPlanAsync();
        Assert.Equal(status.Plan!.Stages[0].Tiles, plan.Stages[0].Tiles);
        Assert.Equal(status.Plan.Stages, plan.Stages);
    }

    [Fact]
    public async Task Tile_agent_killed_mid_load_loses_nothing_and_the_tiles_regroup_over_the_live_devices()
    {
        var model = SmallModels.Residual();
        var cut = TileCut(model);
        await using var cluster = await TestCluster.StartAsync(model, 3, source: new FixedTilesPlanSource(cut, Strips));
        var run = await LoadTests.RunLoadKillingAsync(cluster, model, agent: 1, atCompletion: 50);
        Assert.Empty(run.Failures);
        Assert.Equal(200, run.Results.Count);
        var status = cluster.Coordinator!.Status();
        Assert.Equal(0, status.Failed);
        Assert.False(status.Agents.Single(a => a.Name == "dev1").Alive);
        Assert.Equal(["dev0", "dev2"], status.Plan!.Stages[0].Tiles!.Devices);
        Assert.Equal(TileGrid.Even(2, 1), status.Plan.Stages[0].Tiles!.Grid);
        Assert.Contains(run.Results.Values, r => r.PlanVersion > 1);
    }
}
