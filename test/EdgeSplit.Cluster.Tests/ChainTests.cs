using EdgeSplit.Tests;

namespace EdgeSplit.Cluster.Tests;

public sealed class ChainTests
{
    [Theory]
    [InlineData("residual")]
    [InlineData("inception")]
    public async Task Three_agent_chain_matches_monolithic_output(string name)
    {
        var model = name == "residual" ? SmallModels.Residual() : SmallModels.Inception();
        // Cuts inside the block so more than one tensor crosses each hop.
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3]);
        using var session = Reference.Session(model);
        var plan = cluster.Coordinator!.CurrentPlan!;
        Assert.Equal(["dev0", "dev1", "dev2"], plan.Stages.Select(s => s.Device));
        for (var seed = 0; seed < 5; seed++)
        {
            var input = Reference.Input(seed);
            var result = await cluster.Coordinator.InferAsync([input]);
            var output = Assert.Single(result.Outputs);
            Assert.Equal("y", output.Name);
            Assert.True(Reference.MaxAbsDiff(Reference.Monolithic(session, input), output.ToFloats()) <= 1e-4);
        }
        Assert.All(cluster.Agents, a => Assert.True(a.Executed >= 5));
    }

    [Fact]
    public async Task A_plan_without_the_source_device_still_takes_requests_in_there_and_relays_them()
    {
        var model = SmallModels.Inception();
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [2]);
        var coordinator = cluster.Coordinator!;
        var nodes = Graph.OnnxModel.Parse(model, "inception").Nodes.Count;
        // dev0 is the source (the camera) but runs nothing: it must forward the input to dev1.
        await coordinator.SetPlanAsync(Reference.Chain(nodes, [4], "dev1", "dev2"));
        var executedAtSource = cluster.Agents[0].Executed;
        using var session = Reference.Session(model);
        var input = Reference.Input(3);
        var result = await coordinator.InferAsync([input]);
        Assert.True(Reference.MaxAbsDiff(Reference.Monolithic(session, input), result.Outputs[0].ToFloats()) <= 1e-4);
        Assert.Equal(executedAtSource, cluster.Agents[0].Executed);
        Assert.Contains(2L, cluster.Agents[0].DeployedVersions);
    }
}
