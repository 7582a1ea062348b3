namespace EdgeSplit.Cluster.Tests;

public sealed class ChainTests
{
    [Theory]
    [InlineData("residual")]
    [InlineData("inception")]
    public async Task Three_agent_chain_matches_monolithic_output(string name)
    {
        var model = name == "residual" ? TestModels.Residual() : TestModels.Inception();
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
}
