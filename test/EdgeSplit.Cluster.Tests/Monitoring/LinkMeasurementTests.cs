using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Tests;

namespace EdgeSplit.Cluster.Tests.Monitoring;

/// <summary>
/// On a testbed each device sends to another at a per-link address (<see cref="CoordinatorOptions.PeerAddresses"/>),
/// not at the address its links are reported under. The bandwidth measured from those real transfers must still reach
/// the coordinator, or the planners never see a link change (on the namespace testbed every agent-to-agent link read
/// "not measured": the agents' own probes cannot route there).
/// </summary>
public sealed class LinkMeasurementTests
{
    [Fact]
    public async Task Bandwidth_measured_from_transfers_to_a_per_link_address_is_reported_for_the_device()
    {
        var cache = Directory.CreateTempSubdirectory("edgesplit-links-").FullName;
        var agents = new List<AgentHost>();
        var proxies = new List<FreezableProxy>();
        try
        {
            foreach (var name in new[] { "dev0", "dev1" })
            {
                // No active bandwidth probe: only real transfers can measure a link's bandwidth here.
                var agent = await AgentHost.StartAsync(new AgentOptions(name) { CacheDirectory = Path.Combine(cache, name), ProbeBytes = 0 });
                agents.Add(agent);
                proxies.Add(FreezableProxy.Start(agent.Address));
            }
            // dev0 sends its stage's output to dev1 through dev1's proxy: the "per-link address".
            var peerAddresses = new Dictionary<(string, string), string> { [("dev0", "dev1")] = proxies[1].Address, [("dev1", "dev0")] = proxies[0].Address };
            // 16 x 64 x 64 floats: 256 KB across the cut, enough for a passive bandwidth sample.
            int[] shape = [1, 16, 64, 64];
            var model = SmallModels.Chain(4, shape[1], shape[2]);
            var served = OnnxServing.Create(Graph.OnnxModel.Parse(model, "test"), "test");
            await using var host = await CoordinatorHost.StartAsync(served, [.. agents.Select(a => new AgentEndpoint(a.Name, a.Address))], new FixedCutsPlanSource([2]),
                new CoordinatorOptions { PeerAddresses = peerAddresses, MetricsInterval = TimeSpan.FromMilliseconds(200) });
            using (var client = new ClusterClient(host.Address))
            {
                var random = new Random(7);
                for (var i = 0; i < 20; i++)
                {
                    var input = WireTensor.FromFloats("x", [.. shape.Select(d => (long)d)], [.. Enumerable.Range(0, 16 * 64 * 64).Select(_ => (float)random.NextDouble())]);
                    await client.InferAsync([input], TimeSpan.FromSeconds(30), CancellationToken.None);
                }
            }
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));

            var status = await host.WaitForStatusAsync(s => s.Devices.Single(d => d.Name == "dev0").Links.Any(l => l.BytesPerSecond > 0), bound.Token);

            var link = status.Devices.Single(d => d.Name == "dev0").Links.Single();
            Assert.Equal("dev1", link.Peer);
            Assert.True(link.BytesPerSecond > 0);
            // dev1 sent nothing to dev0 (results go to the coordinator): nothing to measure its link by.
            Assert.All(status.Devices.Single(d => d.Name == "dev1").Links, l => Assert.Equal(0, l.BytesPerSecond));
        }
        finally
        {
            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }
            Directory.Delete(cache, recursive: true);
        }
    }
}
